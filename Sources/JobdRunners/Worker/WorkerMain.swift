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
        let runner = ExecRunner(
            reactor: ProcessReactor(), killGrace: killGrace, daemonEnvironment: ProcessEnvironment.current)
        let handlerRunner = HandlerRunner(measuresProcessCPU: true, killGrace: killGrace)
        let current = CurrentJob()

        try await channel.executeThenClose { inbound, outbound in
            try await withThrowingDiscardingTaskGroup { group in
                group.addTask {
                    let coder = WorkerFraming.Coder()
                    for await message in outbox { try await outbound.write(coder.encode(message)) }
                }
                group.addTask {
                    while !Task.isCancelled {
                        var beat = WorkerMessage(type: .heartbeat)
                        beat.rssBytes = SystemInfo.residentBytes
                        post.yield(beat)
                        try? await Task.sleep(for: .seconds(1))
                    }
                }
                var ready = WorkerMessage(type: .ready)
                ready.pid = SystemInfo.processID
                post.yield(ready)

                let coder = WorkerFraming.Coder()
                for try await frame in inbound {
                    let message = try coder.decode(frame)
                    switch message.type {
                    case .run:
                        guard let id = message.job else { continue }
                        let control = RunControl()
                        current.set(id, control)
                        group.addTask {
                            var outcome = await runJob(
                                message, id: id, control: control, registry: registry, runner: runner,
                                handlerRunner: handlerRunner, post: post)
                            outcome.workerPID = SystemInfo.processID
                            current.clear(id)
                            var result = WorkerMessage(type: .result, job: id)
                            result.outcome = outcome
                            result.rssBytes = SystemInfo.residentBytes
                            post.yield(result)
                        }
                    case .cancel:
                        guard let id = message.job, let control = current.control(for: id) else { continue }
                        control.stop(message.reason.flatMap(StopReason.init(wireName:)) ?? .cancelled)
                    default:
                        logger.warning("worker: ignoring a \(message.type.rawValue) frame from the daemon")
                    }
                }
                // stdin closed: nothing more will come, and nobody reads our reports. Leave now; a job still
                // running is killed with us (PR_SET_PDEATHSIG on its reactor thread).
                exit(0)
            }
        }
    }

    private static func runJob(
        _ message: WorkerMessage, id: JobID, control: RunControl, registry: HandlerRegistry, runner: ExecRunner,
        handlerRunner: HandlerRunner, post: AsyncStream<WorkerMessage>.Continuation
    ) async -> RunOutcome {
        let timeout = message.timeoutSeconds.map { Duration.seconds(checked: $0) }  // never trap on a frame
        switch registry.kind(named: message.kind ?? HandlerRegistry.execKind) {
        case .exec:
            let job = ExecJob(
                argv: message.argv ?? [], environment: message.env, cwd: message.cwd,
                identity: message.uid.flatMap { uid in message.gid.map { (uid, $0) } },
                outputPath: message.outputPath ?? "/dev/null", outputLimit: message.outputLimit ?? 0,
                timeout: timeout)
            return await runner.run(job, control: control) { processGroup in
                var started = WorkerMessage(type: .started, job: id)
                started.processGroup = processGroup
                post.yield(started)
            }
        case .handler(let handler):
            return await handlerRunner.run(
                handler, payload: message.payload ?? .null, jobID: id,
                identity: message.uid.flatMap { uid in message.gid.map { (uid, $0) } },
                output: { bytes in
                    var chunk = WorkerMessage(type: .output, job: id)
                    chunk.data = Data(bytes)
                    post.yield(chunk)
                }, control: control, timeout: timeout)
        case nil:
            return RunOutcome(error: "this worker has no handler named \(message.kind ?? "")", wallSeconds: 0)
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
