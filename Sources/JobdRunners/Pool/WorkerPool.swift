import DequeModule
import JobdProtocol
import Logging
import NIOCore
import Synchronization

/// The CPU pool: a fixed number of worker processes (`jobd worker`), each fed one job at a time over
/// its pipes (docs/WORKERS.md).
///
/// The scheduler never starts more CPU-class jobs than there are slots, so a job waits here only while
/// its worker is being replaced. A worker that dies fails its job's attempt with the reason and is
/// replaced at once; a worker is retired after `maxJobs` jobs or past `maxRSSBytes`.
public actor WorkerPool: Runner {
    /// One live worker process, as the pool sees it. Touched only on the actor.
    private final class Worker {
        let slot: Int
        let pid: Int32
        let post: AsyncStream<WorkerMessage>.Continuation
        var state = WorkerStatus.State.starting
        var jobsRun = 0
        var rssBytes: Int64?
        var assignment: Assignment?
        /// Why the pool killed it, if it did: the job's failure then says that, not "killed by signal 9".
        var killReason: String?

        init(slot: Int, pid: Int32, post: AsyncStream<WorkerMessage>.Continuation) {
            self.slot = slot
            self.pid = pid
            self.post = post
        }

        var name: String { "worker \(slot) (pid \(pid))" }
    }

    private struct Assignment {
        let job: Attempt
        let attempt: Int
        let control: RunControl
        let continuation: CheckedContinuation<RunOutcome, Never>
        let started = ContinuousClock.now
        var processGroup: Int32?
        let output: OutputAppender
    }

    private struct Waiting {
        let job: Attempt
        let attempt: Int
        let control: RunControl
        let continuation: CheckedContinuation<RunOutcome, Never>
    }

    private var workers: [Int: Worker] = [:]
    /// The slots kept filled: `configuration.size` at start, changed by ``resize(to:)`` (a reload).
    private var size: Int
    /// Slots whose supervising loop runs; a slot above `size` ends its loop once its worker is retired.
    private var supervisedSlots: Set<Int>
    /// Slots added by ``resize(to:)`` for ``supervise()`` to fill; finished at shutdown.
    private let addedSlots: AsyncStream<Int>
    private let addSlot: AsyncStream<Int>.Continuation
    private var waiting: Deque<Waiting> = []
    private var isShuttingDown = false
    /// Numbers every attempt handed to the pool, without a hop onto the actor.
    private static let attempts = Atomic<Int>(0)
    private let configuration: WorkerPoolConfiguration
    private let reactor: ProcessReactor
    private let logger: Logger

    public init(configuration: WorkerPoolConfiguration, reactor: ProcessReactor, logger: Logger) {
        self.configuration = configuration
        self.reactor = reactor
        self.logger = logger
        self.size = max(1, configuration.size)
        self.supervisedSlots = Set(1...max(1, configuration.size))
        (addedSlots, addSlot) = AsyncStream.makeStream(of: Int.self)
    }

    // MARK: - Running jobs

    /// Runs one job on the first idle worker (waiting for one if none is) and returns its outcome. A stop
    /// through `control` is sent to the worker; a job that does not end `killGrace` after it, or after its
    /// timeout, is killed with its worker.
    public nonisolated func run(_ job: Attempt, control: RunControl) async -> RunOutcome {
        let attempt = Self.attempts.add(1, ordering: .relaxed).newValue
        // Stops arrive by callback; only a job with a timeout gets a timer task (most have none).
        control.onStop { reason in
            Task { await self.stopRequested(job.job, attempt: attempt, reason: reason) }
        }
        // The worker enforces the timeout itself; this later deadline is the backstop for one that cannot.
        let backstop = job.timeout.map { timeout in
            Task {
                try await Task.sleep(for: timeout + configuration.killGrace + .seconds(1))
                await killHard(
                    job.job, attempt: attempt,
                    reason: StopReason.timedOut(timeout).failureText + " (its worker was killed)")
            }
        }
        defer { backstop?.cancel() }
        return await assign(job, attempt: attempt, control: control)
    }

    private func assign(_ job: Attempt, attempt: Int, control: RunControl) async -> RunOutcome {
        // Runs on the actor: the continuation's body is synchronous, so no other call slips in between.
        await withCheckedContinuation { continuation in
            let waiter = Waiting(job: job, attempt: attempt, control: control, continuation: continuation)
            if let reason = control.stopReason {  // stopped before it reached a worker
                control.finished()
                continuation.resume(returning: RunOutcome(error: reason.failureText, wallSeconds: 0))
            } else if let worker = firstIdleWorker() {
                start(waiter, on: worker)
            } else {
                waiting.append(waiter)
            }
        }
    }

    /// Forwards a stop to the worker, and kills the job with its worker if it has not ended
    /// `killGrace` + 1 s later.
    private func stopRequested(_ id: JobID, attempt: Int, reason: StopReason) {
        forward(reason, to: id, attempt: attempt)
        let grace = configuration.killGrace + .seconds(1)
        Task {
            try await Task.sleep(for: grace)
            await self.killHard(id, attempt: attempt, reason: reason.failureText + " (its worker was killed)")
        }
    }

    private func firstIdleWorker() -> Worker? {
        workers.values.filter { $0.state == .idle }.min { $0.slot < $1.slot }
    }

    private func start(_ waiter: Waiting, on worker: Worker) {
        worker.state = .busy
        worker.assignment = Assignment(
            job: waiter.job, attempt: waiter.attempt, control: waiter.control, continuation: waiter.continuation,
            output: OutputAppender(path: waiter.job.outputPath, limit: waiter.job.outputLimit))
        worker.post.yield(.run(attempt: waiter.job))
    }

    private func handNextJob(to worker: Worker) {
        guard worker.state == .idle, let next = waiting.popFirst() else { return }
        start(next, on: worker)
    }

    private func forward(_ reason: StopReason, to id: JobID, attempt: Int) {
        if let index = waiting.firstIndex(where: { $0.attempt == attempt }) {
            let waiter = waiting.remove(at: index)
            waiter.control.finished()
            waiter.continuation.resume(returning: RunOutcome(error: reason.failureText, wallSeconds: 0))
            return
        }
        guard let worker = worker(running: attempt) else { return }
        worker.post.yield(.cancel(job: id, reason: reason.wireName))
    }

    /// Kills a job's process group and its worker; the worker's exit then fails the job with `reason`.
    private func killHard(_ id: JobID, attempt: Int, reason: String) {
        guard let worker = worker(running: attempt) else { return }
        logger.warning("\(worker.name): job \(id) did not stop; killing it and its worker", metadata: ["job": "\(id)"])
        worker.killReason = reason
        if let group = worker.assignment?.processGroup { ProcessReactor.signalGroup(group, SIGKILL_VALUE) }
        ProcessReactor.signalProcess(worker.pid, SIGKILL_VALUE)
    }

    /// The worker running this attempt: by attempt, not job id, so a late kill never hits a retry.
    private func worker(running attempt: Int) -> Worker? {
        workers.values.first { $0.assignment?.attempt == attempt }
    }

    // MARK: - Frames from workers

    private func received(_ message: WorkerMessage, from slot: Int) {
        guard let worker = workers[slot] else { return }
        switch message {
        case .ready:
            worker.state = .idle
            handNextJob(to: worker)
        case .started(let job, let processGroup):
            if worker.assignment?.job.job == job { worker.assignment?.processGroup = processGroup }
        case .output(let job, let data):
            if worker.assignment?.job.job == job { worker.assignment?.output.append(Array(data)) }
        case .result(let job, var outcome, let rssBytes):
            guard let assignment = worker.assignment, assignment.job.job == job else {
                logger.error("\(worker.name) sent a result for job \(job) it was not running", metadata: ["job": "\(job)"])
                return
            }
            worker.assignment = nil
            worker.jobsRun += 1
            worker.rssBytes = rssBytes ?? worker.rssBytes
            assignment.output.close()
            assignment.control.finished()
            outcome.workerPID = worker.pid
            assignment.continuation.resume(returning: outcome)
            if shouldRetire(worker) {
                retire(worker)
            } else {
                worker.state = .idle
                handNextJob(to: worker)
            }
        case .heartbeat(let rssBytes):
            worker.rssBytes = rssBytes ?? worker.rssBytes
        case .run, .cancel:
            logger.error("\(worker.name) sent a \(message.name) frame, which only the daemon sends")
        }
    }

    private func shouldRetire(_ worker: Worker) -> Bool {
        if isShuttingDown || worker.slot > size { return true }
        if let maxJobs = configuration.maxJobs, worker.jobsRun >= maxJobs { return true }
        if let maxRSS = configuration.maxRSSBytes, let rss = worker.rssBytes, rss > maxRSS { return true }
        return false
    }

    /// Closes the worker's stdin: it exits when it reads EOF, and its slot starts a fresh one.
    private func retire(_ worker: Worker) {
        worker.state = .retiring
        worker.post.finish()
    }

    // MARK: - Worker lifetimes

    /// Keeps every slot filled with a live worker until ``shutdown()``.
    public nonisolated func supervise() async {
        await withDiscardingTaskGroup { group in
            for slot in 1...max(1, configuration.size) {
                group.addTask { await self.superviseSlot(slot) }
            }
            for await slot in addedSlots {
                group.addTask { await self.superviseSlot(slot) }
            }
        }
    }

    /// Keeps `count` workers (at least 1) from now on: new slots start a worker at once; a slot above the new
    /// size retires its worker, an idle one now, a busy one when its job ends (no running job is stopped).
    public func resize(to count: Int) {
        let count = max(1, count)
        let old = size
        size = count
        if count > old {
            for slot in (old + 1)...count where supervisedSlots.insert(slot).inserted { addSlot.yield(slot) }
        } else {
            for worker in workers.values where worker.slot > count && worker.assignment == nil { retire(worker) }
        }
    }

    /// Whether a slot's loop goes on; decided and recorded in one turn on the actor, so a resize that
    /// brings the slot back either sees the loop still running or starts a new one, never neither.
    private func keepsSupervising(_ slot: Int) -> Bool {
        if isShuttingDown || slot > size {
            supervisedSlots.remove(slot)
            return false
        }
        return true
    }

    private nonisolated func superviseSlot(_ slot: Int) async {
        var failedStarts = 0
        while await keepsSupervising(slot) {
            if await runWorker(slot: slot) {
                failedStarts = 0
            } else {
                // A worker that cannot start (a broken install) must not be respawned in a tight loop.
                failedStarts += 1
                try? await Task.sleep(for: .milliseconds(min(5000, 100 << min(failedStarts, 6))))
            }
        }
    }

    /// Spawns one worker and serves its frames until it exits. Returns whether it became ready.
    ///
    /// Why fork+exec of our own executable rather than a bare `fork()`: the daemon is multi-threaded
    /// (NIO's event loops, the cooperative pool, the reactor), and a forked copy holds only the forking
    /// thread, with every lock another thread held stuck forever. A fresh exec starts clean.
    private nonisolated func runWorker(slot: Int) async -> Bool {
        let toWorker: Pipe
        let fromWorker: Pipe
        do {
            toWorker = try Pipe()
            fromWorker = try Pipe()
        } catch {
            logger.error("worker \(slot): \(error)")
            return false
        }
        let request = SpawnRequest(
            path: configuration.executable, argv: configuration.arguments + ["--slot", "\(slot)"],
            environment: configuration.environment.map { "\($0.key)=\($0.value)" },
            stdio: .descriptors(stdin: toWorker.readEnd, stdout: fromWorker.writeEnd, stderr: 2))
        let (pids, pidSink) = AsyncStream.makeStream(of: Int32.self)
        async let exit: ChildResult = {
            let result = await reactor.run(request) { pid in pidSink.yield(pid) }
            pidSink.finish()
            return result
        }()
        var pidIterator = pids.makeAsyncIterator()
        let pid = await pidIterator.next()
        Pipe.close(toWorker.readEnd)
        Pipe.close(fromWorker.writeEnd)
        guard let pid else {
            Pipe.close(toWorker.writeEnd)
            Pipe.close(fromWorker.readEnd)
            let failure = await exit
            logger.error("worker \(slot) could not start: \(failure)")
            return false
        }

        var becameReady = false
        let (outbox, post) = AsyncStream.makeStream(of: WorkerMessage.self)
        await register(Worker(slot: slot, pid: pid, post: post))
        do {
            let channel = try await WorkerFraming.channel(reading: fromWorker.readEnd, writing: toWorker.writeEnd)
            try await channel.executeThenClose { inbound, outbound in
                try await withThrowingDiscardingTaskGroup { group in
                    group.addTask {
                        let coder = WorkerFraming.Coder()
                        for await message in outbox { try await outbound.write(coder.encode(message)) }
                        outbound.finish()  // the worker reads EOF and exits
                    }
                    let coder = WorkerFraming.Coder()
                    for try await frame in inbound {
                        let message = try coder.decode(frame)
                        if case .ready = message { becameReady = true }
                        await self.received(message, from: slot)
                    }
                    post.finish()
                }
            }
        } catch {
            logger.debug("worker \(slot) (pid \(pid)): pipe closed: \(error)")
            ProcessReactor.signalProcess(pid, SIGKILL_VALUE)  // it is no use to us without its pipes
        }
        post.finish()
        let ending = await exit
        await workerExited(slot: slot, pid: pid, how: ending)
        return becameReady
    }

    private func register(_ worker: Worker) {
        workers[worker.slot] = worker
        if isShuttingDown { retire(worker) }
    }

    private func workerExited(slot: Int, pid: Int32, how result: ChildResult) {
        guard let worker = workers.removeValue(forKey: slot) else { return }
        let ending: String
        switch result {
        case .exited(let exit):
            if let signal = exit.signal {
                ending = "killed by signal \(signal) (\(signalName(signal)))"
                break
            }
            ending = "exited with code \(exit.exitCode ?? -1)"
        case .failedToStart(let reason):
            ending = reason
        }
        if let assignment = worker.assignment {
            // Its exec job's process died with it (PDEATHSIG); anything that job left in its group goes too.
            if let group = assignment.processGroup { ProcessReactor.signalGroup(group, SIGKILL_VALUE) }
            assignment.output.close()
            assignment.control.finished()
            let wall = (ContinuousClock.now - assignment.started).inSeconds
            assignment.continuation.resume(
                returning: RunOutcome(
                    error: worker.killReason ?? "\(worker.name) \(ending) while running it", wallSeconds: wall,
                    workerPID: pid))
        }
        if worker.state != .retiring {
            logger.warning("\(worker.name) \(ending); starting a replacement", metadata: ["pid": "\(pid)"])
        }
    }

    // MARK: - Status and shutdown

    /// Every slot, in order; a slot between workers shows as `starting` with no pid.
    public func statuses() -> [WorkerStatus] {
        (1...size).map { slot in
            guard let worker = workers[slot] else {
                return WorkerStatus(slot: slot, pid: nil, state: .starting, jobID: nil, jobsRun: 0, rssBytes: nil)
            }
            return WorkerStatus(
                slot: slot, pid: worker.pid, state: worker.state, jobID: worker.assignment?.job.job,
                jobsRun: worker.jobsRun, rssBytes: worker.rssBytes)
        }
    }

    /// Retires every worker (idle ones now, busy ones after their job) and ends ``supervise()``.
    /// Call it after the dispatcher has drained: jobs still waiting here fail.
    public func shutdown() {
        isShuttingDown = true
        addSlot.finish()
        for worker in workers.values where worker.assignment == nil { retire(worker) }
        for waiter in waiting {
            waiter.control.finished()
            waiter.continuation.resume(returning: RunOutcome(error: StopReason.shutdown.failureText, wallSeconds: 0))
        }
        waiting.removeAll()
    }
}
