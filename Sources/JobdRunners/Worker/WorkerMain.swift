import Foundation
import JobdHandlers
import JobdProtocol
import Logging
import NIOCore
import Synchronization

/// The worker side of the pool: `jobd worker`, started by the daemon with the job pipe on stdin and the
/// report pipe on stdout (docs/WORKERS.md). It executes one job at a time, in the order they came; the
/// daemon may queue the next while one runs, and it starts the moment the previous one ends. It exits
/// when stdin closes: the daemon retired it, or died.
public enum WorkerMain {
    /// - Parameter ledger: where the jobs' process groups are recorded while they run (the daemon's).
    public static func run(
        registry: HandlerRegistry, killGrace: Setting<Duration>, ledger: ProcessLedger? = nil, logger: Logger
    ) async throws {
        let channel = try await WorkerFraming.channel(reading: 0, writing: 1)
        // Every frame out goes through one stream and one writer task: the heartbeat, the job's output and
        // its result come from different tasks, and a handler's output sink cannot await.
        let (outbox, post) = AsyncStream.makeStream(of: WorkerMessage.self)
        let reactor = ProcessReactor(ledger: ledger)
        let runners = Runners(
            exec: ExecRunner(
                reactor: reactor, killGrace: killGrace, daemonEnvironment: ProcessEnvironment.current,
                started: { job, processGroup in post.yield(.started(job: job, processGroup: processGroup)) }),
            handler: HandlerRunner(
                registry: registry, measuresProcessCPU: true, killGrace: killGrace,
                output: .sink { job, bytes in post.yield(.output(job: job, data: Data(bytes))) }))
        let jobs = JobQueue()
        let (queued, enqueue) = AsyncStream.makeStream(of: Attempt.self)

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
                // One job at a time, in order: the one executor of this worker.
                group.addTask {
                    for await attempt in queued {
                        guard let control = jobs.start(attempt.job) else { continue }  // answered already
                        var outcome = await runners.runner(for: attempt).run(attempt, control: control)
                        outcome.workerPID = SystemInfo.processID
                        jobs.finish(attempt.job)
                        post.yield(.result(job: attempt.job, outcome: outcome, rssBytes: SystemInfo.residentBytes))
                    }
                }
                post.yield(.ready(pid: SystemInfo.processID))

                let coder = WorkerFraming.Coder()
                var lastEnvironment: [String: String]?
                for try await frame in inbound {
                    switch try coder.decode(frame) {
                    case .run(var attempt, let sameEnvironment):
                        if sameEnvironment == true {
                            attempt.environment = lastEnvironment
                        } else {
                            lastEnvironment = attempt.environment
                        }
                        jobs.add(attempt.job)
                        enqueue.yield(attempt)
                    case .cancel(let job, let reason):
                        let reason = StopReason(wireName: reason) ?? .cancelled
                        // Not started yet: answered now, out of order, so the daemon need not wait for the job
                        // in front of it; the executor then skips it.
                        if jobs.withdraw(job, reason) {
                            post.yield(
                                .result(
                                    job: job,
                                    outcome: RunOutcome(error: reason.failureText, wallSeconds: 0, workerPID: SystemInfo.processID),
                                    rssBytes: SystemInfo.residentBytes))
                        }
                    case .withdraw(let job):
                        if jobs.takeBack(job) { post.yield(.withdrawn(job: job)) }
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

/// The jobs a worker holds: queued ones (not started) and the one it executes, so a `cancel` frame finds
/// either. The frame reader and the executor both touch it, hence the lock.
private final class JobQueue: Sendable {
    private struct State {
        var queued: Set<JobID> = []
        var running: (id: JobID, control: RunControl)?
    }

    private let state = Mutex(State())

    func add(_ id: JobID) { state.withLock { _ = $0.queued.insert(id) } }

    /// Moves a queued job to executing; nil if it was withdrawn meanwhile.
    func start(_ id: JobID) -> RunControl? {
        state.withLock { state in
            guard state.queued.remove(id) != nil else { return nil }
            let control = RunControl()
            state.running = (id, control)
            return control
        }
    }

    func finish(_ id: JobID) { state.withLock { if $0.running?.id == id { $0.running = nil } } }

    /// Takes a queued job out, unstarted; false if it has started (or is unknown).
    func takeBack(_ id: JobID) -> Bool { state.withLock { $0.queued.remove(id) != nil } }

    /// Stops a job: one executing is stopped through its control (its result follows when it ends); one
    /// still queued is taken out. Returns true for the latter: the caller answers for it.
    func withdraw(_ id: JobID, _ reason: StopReason) -> Bool {
        let (control, wasQueued) = state.withLock { state -> (RunControl?, Bool) in
            if state.queued.remove(id) != nil { return (nil, true) }
            return (state.running?.id == id ? state.running?.control : nil, false)
        }
        control?.stop(reason)
        return wasQueued
    }
}
