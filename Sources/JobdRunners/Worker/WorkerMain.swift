import Foundation
import JobdHandlers
import JobdProtocol
import Logging
import NIOCore
import Synchronization

/// The worker side of the pool: `jobd worker`, started by the daemon with the job pipe on stdin and the
/// report pipe on stdout (docs/WORKERS.md). It runs one job at a time and exits when stdin closes: the
/// daemon retired it, or died.
public enum WorkerMain {
    public static func run(registry: HandlerRegistry, killGrace: Duration, logger: Logger) async throws {
        let channel = try await WorkerFraming.channel(reading: 0, writing: 1)
        // Every frame out goes through one stream and one writer task: the heartbeat, the job's output and
        // its result come from different tasks, and a handler's output sink cannot await.
        let (outbox, post) = AsyncStream.makeStream(of: WorkerMessage.self)
        let reactor = ProcessReactor()
        let runners = Runners(
            exec: ExecRunner(
                reactor: reactor, killGrace: killGrace, daemonEnvironment: ProcessEnvironment.current,
                started: { job, processGroup in post.yield(.started(job: job, processGroup: processGroup)) }),
            handler: HandlerRunner(
                registry: registry, measuresProcessCPU: true, killGrace: killGrace,
                output: .sink { job, bytes in post.yield(.output(job: job, data: Data(bytes))) }))
        let current = CurrentJob()

        try await channel.executeThenClose { inbound, outbound in
            try await withThrowingDiscardingTaskGroup { group in
                group.addTask {
                    let coder = WorkerFraming.Coder()
                    for await message in outbox { try await outbound.write(coder.encode(message)) }
                }
                group.addTask {
                    while !Task.isCancelled {
                        post.yield(.heartbeat(rssBytes: SystemInfo.residentBytes))
                        try? await Task.sleep(for: .seconds(1))
                    }
                }
                post.yield(.ready(pid: SystemInfo.processID))

                let coder = WorkerFraming.Coder()
                for try await frame in inbound {
                    switch try coder.decode(frame) {
                    case .run(let attempt):
                        let control = RunControl()
                        current.set(attempt.job, control)
                        group.addTask {
                            var outcome = await runners.runner(for: attempt).run(attempt, control: control)
                            outcome.workerPID = SystemInfo.processID
                            current.clear(attempt.job)
                            post.yield(.result(job: attempt.job, outcome: outcome, rssBytes: SystemInfo.residentBytes))
                        }
                    case .cancel(let job, let reason):
                        current.control(for: job)?.stop(StopReason(wireName: reason) ?? .cancelled)
                    case let other:
                        logger.warning("worker: ignoring a \(other.name) frame from the daemon")
                    }
                }
                // stdin closed: nothing more will come, and nobody reads our reports. Leave now; a job still
                // running is killed with us (PR_SET_PDEATHSIG on its reactor thread).
                exit(0)
            }
        }
    }

    /// The two runners inside a worker: a command as a child of the worker, a handler as a task of it.
    private struct Runners {
        let exec: ExecRunner
        let handler: HandlerRunner

        func runner(for attempt: Attempt) -> any Runner {
            attempt.isExec ? exec : handler
        }
    }
}

/// The job the worker runs now, so a `cancel` frame finds its control.
private final class CurrentJob: Sendable {
    private let state = Mutex<(JobID, RunControl)?>(nil)
    func set(_ id: JobID, _ control: RunControl) { state.withLock { $0 = (id, control) } }
    func clear(_ id: JobID) { state.withLock { if $0?.0 == id { $0 = nil } } }
    func control(for id: JobID) -> RunControl? { state.withLock { $0?.0 == id ? $0?.1 : nil } }
}
