import DequeModule
import JobdProtocol
import Logging
import NIOCore
import Synchronization

/// The CPU pool's assignment state: which worker runs which attempt, which attempt is queued in which
/// worker, the attempts waiting for a worker, retiring and replacing workers, resizing, status
/// (docs/WORKERS.md). Each worker process's I/O is a ``WorkerProcess``.
///
/// **A worker executes one attempt at a time**, so at most `size` attempts execute at once. It may hold
/// ``queuedPerWorker`` more, handed over while it still runs the previous one, which it starts the moment
/// that one ends: the round trip (result to the daemon, next job back) is then hidden behind the running
/// job. The scheduler accordingly lets `size × (1 + queuedPerWorker)` CPU jobs be `running`.
public actor WorkerPool: Runner {
    /// Attempts a worker may hold beyond the one it executes. With one, W2's two workers compute for 98% of
    /// the makespan (93% without); W4 moved within the noise, and 4 did no better (docs/WORKERS.md). More
    /// would only hold jobs back from a worker that frees up sooner.
    public static let queuedPerWorker = 1

    /// One live worker process, as the pool sees it. Touched only on the actor.
    private final class Worker {
        let process: WorkerProcess
        var state = WorkerStatus.State.starting
        var jobsRun = 0
        var rssBytes: Int64?
        /// What it holds, in the order it runs them: the first executes (once the worker is ready), the
        /// rest wait in the worker.
        var assignments: [Assignment] = []
        /// Jobs the pool gave up on while they were queued in the worker; their late result is dropped.
        var detached: Set<JobID> = []
        /// Why the pool killed it, if it did: the job's failure then says that, not "killed by signal 9".
        var killReason: String?
        /// The environment of the last `run` frame sent to it (`.some(nil)`: a job without one); a job with
        /// the same one is sent without it.
        var lastEnvironment: [String: String]??

        init(process: WorkerProcess) { self.process = process }

        var slot: Int { process.slot }
        var pid: Int32 { process.pid }
        var name: String { process.name }

        func index(of job: JobID) -> Int? { assignments.firstIndex { $0.job.job == job } }
        func index(ofAttempt attempt: Int) -> Int? { assignments.firstIndex { $0.attempt == attempt } }
    }

    private final class Assignment {
        let job: Attempt
        let attempt: Int
        let control: RunControl
        let continuation: CheckedContinuation<RunOutcome, Never>
        let output: OutputAppender
        /// When it began executing (it reached the front of its worker); nil while queued in the worker.
        var started: ContinuousClock.Instant?
        var processGroup: Int32?
        /// Kills the job with its worker if it runs `killGrace` + 1 s past its timeout.
        var backstop: Task<Void, Never>?
        /// A `withdraw` was sent for it: another worker went idle while it waited in this one.
        var isWithdrawing = false
        /// The job before it in its worker, and the token of its announcement waiting on that job's
        /// outcome (``RunControl/afterOutcomeQueued(_:)``): forgotten if it is taken back meanwhile.
        var announcement: (after: RunControl, token: Int)?

        init(_ waiter: Waiting) {
            job = waiter.job
            attempt = waiter.attempt
            control = waiter.control
            continuation = waiter.continuation
            output = OutputAppender(path: waiter.job.outputPath, limit: waiter.job.outputLimit)
        }

        /// Ends it with `outcome`; nothing else may touch it afterwards.
        func finish(_ outcome: RunOutcome) {
            backstop?.cancel()
            output.close()
            control.finished()
            continuation.resume(returning: outcome)
        }

        var wallSeconds: Double { started.map { (ContinuousClock.now - $0).inSeconds } ?? 0 }
    }

    private struct Waiting {
        let job: Attempt
        let attempt: Int
        let control: RunControl
        let continuation: CheckedContinuation<RunOutcome, Never>

        init(job: Attempt, attempt: Int, control: RunControl, continuation: CheckedContinuation<RunOutcome, Never>) {
            (self.job, self.attempt, self.control, self.continuation) = (job, attempt, control, continuation)
        }

        init(_ assignment: Assignment) {
            self.init(
                job: assignment.job, attempt: assignment.attempt, control: assignment.control,
                continuation: assignment.continuation)
        }
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
    /// Whether the slots keep workers: from the start, and again from the next CPU job, until the pool has
    /// been idle for `configuration.idleRetirement` (always, without one).
    private var wantsWorkers: Bool
    /// Slot loops waiting for ``wantsWorkers``.
    private var wanting: [CheckedContinuation<Void, Never>] = []
    /// Since when no worker has held a job and none has waited; nil while the pool is busy.
    private var idleSince: ContinuousClock.Instant?
    /// The one timer that stops the workers `idleRetirement` after `idleSince`; nil when none runs.
    private var idleTimer: Task<Void, Never>?
    /// Encodes the frames to every worker, on the actor: a `run` frame's size is then known before it is
    /// queued, and one over the limit fails its job here instead of cutting the worker off.
    private let coder = WorkerFraming.Coder()
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
        // Up from the start, as callers expect (jobd-bench waits for idle workers before a workload); after
        // an idle `idleRetirement` they stop, and the next CPU job starts them again.
        self.wantsWorkers = true
        (addedSlots, addSlot) = AsyncStream.makeStream(of: Int.self)
    }

    // MARK: - Running jobs

    /// Runs one job on a worker (queued behind the job it runs, or waiting for one if every worker is full)
    /// and returns its outcome. A stop through `control` is sent to the worker; a job that does not end
    /// `killGrace` after it, or after its timeout, is killed with its worker.
    public nonisolated func run(_ job: Attempt, control: RunControl) async -> RunOutcome {
        let attempt = Self.attempts.add(1, ordering: .relaxed).newValue
        // Stops arrive by callback, not by a task per job (most are never stopped).
        control.onStop { reason in
            Task { await self.stopRequested(job.job, attempt: attempt, reason: reason) }
        }
        return await assign(job, attempt: attempt, control: control)
    }

    private func assign(_ job: Attempt, attempt: Int, control: RunControl) async -> RunOutcome {
        // Runs on the actor: the continuation's body is synchronous, so no other call slips in between.
        await withCheckedContinuation { continuation in
            let waiter = Waiting(job: job, attempt: attempt, control: control, continuation: continuation)
            if let reason = control.stopReason {  // stopped before it reached a worker
                control.finished()
                continuation.resume(returning: RunOutcome(error: reason.failureText, wallSeconds: 0))
            } else if let worker = workerTakingAJob() {
                hand(waiter, to: worker)
            } else {
                waiting.append(waiter)
                startWorkers()
            }
        }
    }

    /// Forwards a stop to the worker, and gives up on the job `killGrace` + 1 s later if it has not ended.
    private func stopRequested(_ id: JobID, attempt: Int, reason: StopReason) {
        forward(reason, to: id, attempt: attempt)
        let grace = configuration.killGrace.value + .seconds(1)
        Task {
            try? await Task.sleep(for: grace)
            self.killHard(id, attempt: attempt, reason: reason.failureText + " (its worker was killed)")
        }
    }

    /// The worker the next job goes to: an idle one first, else one that runs a job and has room for a
    /// queued one; the lowest slot among equals. Nil: every worker is full, starting or retiring.
    private func workerTakingAJob() -> Worker? {
        var best: Worker?
        for worker in workers.values where worker.state == .idle || worker.state == .busy {
            let held = worker.assignments.count
            guard held <= Self.queuedPerWorker, !isShuttingDown, worker.slot <= size else { continue }
            // A job queued behind one after which the worker retires would die with it.
            if held > 0 && retiresAfter(worker, jobs: held) { continue }
            if let current = best,
                (current.assignments.count, current.slot) <= (held, worker.slot)
            {
                continue
            }
            best = worker
        }
        return best
    }

    private func hand(_ waiter: Waiting, to worker: Worker) {
        let assignment = Assignment(waiter)
        var attempt = waiter.job
        let sameEnvironment = worker.lastEnvironment == .some(attempt.environment)
        if sameEnvironment { attempt.environment = nil }
        let frame = coder.encode(.run(attempt: attempt, sameEnvironment: sameEnvironment ? true : nil))
        guard frame.readableBytes <= WorkerFraming.maximumFrameBytes else {
            assignment.finish(
                RunOutcome(
                    error: "could not start: its run frame is \(frame.readableBytes) bytes, over the worker pipe's limit of \(WorkerFraming.maximumFrameBytes) bytes (environment and payload too large)",
                    wallSeconds: 0))
            return
        }
        if !sameEnvironment { worker.lastEnvironment = .some(waiter.job.environment) }
        worker.assignments.append(assignment)
        worker.state = .busy
        idleSince = nil
        if worker.assignments.count == 1 { beganExecuting(assignment, on: worker) }
        worker.process.send(frame)
    }

    /// The assignment is at the front of its worker: it executes from now on (the worker starts a queued job
    /// the moment the one before it ends, without waiting for the daemon).
    /// - Parameter announced: false when the control is told later (``RunControl/afterOutcomeQueued(_:)``).
    private func beganExecuting(_ assignment: Assignment, on worker: Worker, announced: Bool = true) {
        assignment.started = .now
        if announced { assignment.control.began() }
        assignment.isWithdrawing = false  // too late for that: the worker runs it (or has answered already)
        // The worker enforces the timeout itself; this later deadline is the backstop for one that cannot.
        if let timeout = assignment.job.timeout {
            let (id, attempt) = (assignment.job.job, assignment.attempt)
            let delay = timeout + configuration.killGrace.value + .seconds(1)
            assignment.backstop = Task {
                guard (try? await Task.sleep(for: delay)) != nil else { return }
                self.killHard(
                    id, attempt: attempt, reason: StopReason.timedOut(timeout).failureText + " (its worker was killed)")
            }
        }
    }

    // MARK: - Starting and stopping the workers

    /// The first CPU job since the pool stopped its workers: the slots start them again.
    private func startWorkers() {
        idleSince = nil
        guard !wantsWorkers, !isShuttingDown else { return }
        wantsWorkers = true
        let waiters = wanting
        wanting.removeAll()
        for waiter in waiters { waiter.resume() }
    }

    /// Returns once the slots are to have workers (at once if they are), or at shutdown.
    private func untilWorkersWanted() async {
        guard !wantsWorkers, !isShuttingDown else { return }
        await withCheckedContinuation { wanting.append($0) }
    }

    /// Called whenever a worker goes idle: if the whole pool is now idle, its workers are stopped
    /// `idleRetirement` later unless a job comes first. One timer, re-armed, not a task per idle moment:
    /// a stream of single CPU jobs makes the pool idle after each.
    private func poolMayBeIdle() {
        guard configuration.idleRetirement != nil, wantsWorkers, waiting.isEmpty,
            workers.values.allSatisfy({ $0.assignments.isEmpty })
        else { return }
        idleSince = .now
        guard idleTimer == nil else { return }
        idleTimer = Task {
            while let deadline = self.idleDeadline() {
                guard (try? await Task.sleep(until: deadline)) != nil else { return }
            }
        }
    }

    /// When the idle timer should look again; nil: it ends (the workers were stopped, or the pool is busy
    /// and the next idle moment starts a new timer).
    private func idleDeadline() -> ContinuousClock.Instant? {
        guard let after = configuration.idleRetirement, let since = idleSince, !isShuttingDown else {
            idleTimer = nil
            return nil
        }
        if since + after > .now { return since + after }
        idleTimer = nil
        idleSince = nil
        wantsWorkers = false
        for worker in workers.values { retire(worker) }
        return nil
    }

    /// Gives waiting jobs to workers with room; with none waiting, takes jobs queued behind a running one
    /// back for the workers that are idle.
    private func handWaitingJobs() {
        while !waiting.isEmpty, let worker = workerTakingAJob() {
            let next = waiting.removeFirst()
            if let reason = next.control.stopReason {
                next.control.finished()
                next.continuation.resume(returning: RunOutcome(error: reason.failureText, wallSeconds: 0))
                continue
            }
            hand(next, to: worker)
        }
        if waiting.isEmpty { withdrawQueuedJobsForIdleWorkers() }
    }

    /// A job queued behind a long one must not wait while another worker idles (one that was still
    /// starting when the job came, or whose job ended first): each idle worker gets one queued job back,
    /// through a `withdraw` that the worker answers only if the job has not started.
    private func withdrawQueuedJobsForIdleWorkers() {
        var idle = workers.values.filter { $0.state == .idle && $0.assignments.isEmpty && $0.slot <= size }.count
        guard idle > 0, !isShuttingDown else { return }
        idle -= workers.values.reduce(0) { $0 + $1.assignments.lazy.filter(\.isWithdrawing).count }
        for worker in workers.values.sorted(by: { $0.slot < $1.slot }) where worker.assignments.count > 1 {
            for assignment in worker.assignments.dropFirst() where idle > 0 && !assignment.isWithdrawing {
                assignment.isWithdrawing = true
                worker.process.send(coder.encode(.withdraw(job: assignment.job.job)))
                idle -= 1
            }
        }
    }

    private func forward(_ reason: StopReason, to id: JobID, attempt: Int) {
        if let index = waiting.firstIndex(where: { $0.attempt == attempt }) {
            let waiter = waiting.remove(at: index)
            waiter.control.finished()
            waiter.continuation.resume(returning: RunOutcome(error: reason.failureText, wallSeconds: 0))
            return
        }
        // Running or queued in the worker: the worker stops it, or answers for it at once if not started.
        guard let worker = worker(holding: attempt) else { return }
        worker.process.send(coder.encode(.cancel(job: id, reason: reason.wireName)))
    }

    /// Gives up on an attempt that did not end after a stop. One that executes is killed with its process
    /// group and its worker (the worker's exit then fails it with `reason`); one still queued in a worker
    /// that does not answer is taken back and failed, and the worker, busy with another job, is left alone.
    private func killHard(_ id: JobID, attempt: Int, reason: String) {
        guard let worker = worker(holding: attempt), let index = worker.index(ofAttempt: attempt) else { return }
        guard index == 0 else {
            let assignment = worker.assignments.remove(at: index)
            worker.detached.insert(id)
            assignment.finish(RunOutcome(error: reason, wallSeconds: 0, workerPID: worker.pid))
            return
        }
        logger.warning("\(worker.name): job \(id) did not stop; killing it and its worker", metadata: ["job": "\(id)"])
        worker.killReason = reason
        if let group = worker.assignments[0].processGroup { ProcessReactor.signalGroup(group, SIGKILL_VALUE) }
        worker.process.kill()
    }

    /// The worker holding this attempt: by attempt, not job id, so a late kill never hits a retry.
    private func worker(holding attempt: Int) -> Worker? {
        workers.values.first { $0.index(ofAttempt: attempt) != nil }
    }

    // MARK: - Frames from workers

    private func received(_ message: WorkerMessage, from slot: Int) {
        guard let worker = workers[slot] else { return }
        switch message {
        case .ready:
            guard worker.state == .starting else { return }  // retired before it was up
            worker.state = .idle
            handWaitingJobs()
            if worker.assignments.isEmpty { poolMayBeIdle() }
        case .started(let job, let processGroup):
            if let index = worker.index(of: job) { worker.assignments[index].processGroup = processGroup }
        case .output(let job, let data):
            if let index = worker.index(of: job) { worker.assignments[index].output.append(Array(data)) }
        case .result(let job, var outcome, let rssBytes):
            worker.rssBytes = rssBytes ?? worker.rssBytes
            guard let index = worker.index(of: job) else {
                if worker.detached.remove(job) == nil {
                    logger.error("\(worker.name) sent a result for job \(job) it was not running", metadata: ["job": "\(job)"])
                }
                return
            }
            let assignment = worker.assignments.remove(at: index)
            // A job queued in the worker and stopped before it started is answered at once, out of order;
            // only the end of the one at the front starts the next.
            if index == 0 {
                worker.jobsRun += 1
                // The worker runs the next one already; the daemon is told once this outcome is queued
                // for the store, so the store never holds both as running at once.
                if let next = worker.assignments.first {
                    beganExecuting(next, on: worker, announced: false)
                    let nextControl = next.control
                    if let token = assignment.control.afterOutcomeQueued({ nextControl.began() }) {
                        next.announcement = (assignment.control, token)
                    }
                }
            }
            outcome.workerPID = worker.pid
            assignment.finish(outcome)
            if worker.assignments.isEmpty {
                if shouldRetire(worker) {
                    retire(worker)
                } else {
                    worker.state = .idle
                }
            }
            handWaitingJobs()
            poolMayBeIdle()
        case .withdrawn(let job):
            guard let index = worker.index(of: job) else { return }
            let assignment = worker.assignments.remove(at: index)
            assignment.backstop?.cancel()
            assignment.output.close()
            // Not executing after all: no late announcement may say it began.
            if let (before, token) = assignment.announcement { before.cancelAfterOutcome(token) }
            waiting.prepend(Waiting(assignment))
            // Taken back just as the job before it ended: the daemon had already counted it as executing.
            if index == 0, let next = worker.assignments.first { beganExecuting(next, on: worker) }
            if worker.assignments.isEmpty {
                if shouldRetire(worker) { retire(worker) } else { worker.state = .idle }
            }
            handWaitingJobs()
        case .heartbeat(let rssBytes):
            worker.rssBytes = rssBytes ?? worker.rssBytes
        case .run, .cancel, .withdraw:
            logger.error("\(worker.name) sent a \(message.name) frame, which only the daemon sends")
        }
    }

    private func shouldRetire(_ worker: Worker) -> Bool {
        isShuttingDown || worker.slot > size || retiresAfter(worker, jobs: 0)
    }

    /// Whether the worker is to be retired once it has run `jobs` more.
    private func retiresAfter(_ worker: Worker, jobs: Int) -> Bool {
        if let maxJobs = configuration.maxJobs, worker.jobsRun + jobs >= maxJobs { return true }
        if let maxRSS = configuration.maxRSSBytes, let rss = worker.rssBytes, rss > maxRSS { return true }
        return false
    }

    /// Closes the worker's stdin: it exits when it reads EOF, and its slot starts a fresh one.
    private func retire(_ worker: Worker) {
        worker.state = .retiring
        worker.process.closeInput()
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
    /// size retires its worker, an idle one now, a busy one when its jobs end (no running job is stopped).
    public func resize(to count: Int) {
        let count = max(1, count)
        let old = size
        size = count
        if count > old {
            for slot in (old + 1)...count where supervisedSlots.insert(slot).inserted { addSlot.yield(slot) }
        } else {
            for worker in workers.values where worker.slot > count && worker.assignments.isEmpty { retire(worker) }
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
            // No process before the first CPU job, nor after the pool has been idle for a while.
            await untilWorkersWanted()
            guard await keepsSupervising(slot) else { return }
            var becameReady = false
            let ending = await WorkerProcess.run(
                slot: slot, configuration: configuration, reactor: reactor, logger: logger,
                started: { await self.register($0) },
                received: { message in
                    if case .ready = message { becameReady = true }
                    await self.received(message, from: slot)
                })
            if let ending { await workerExited(slot: slot, how: ending) }
            if becameReady {
                failedStarts = 0
            } else {
                // A worker that cannot start (a broken install) must not be respawned in a tight loop.
                failedStarts += 1
                try? await Task.sleep(for: .milliseconds(min(5000, 100 << min(failedStarts, 6))))
            }
        }
    }

    private func register(_ process: WorkerProcess) {
        let worker = Worker(process: process)
        workers[process.slot] = worker
        if isShuttingDown { retire(worker) }
    }

    private func workerExited(slot: Int, how ending: WorkerProcess.Ending) {
        guard let worker = workers.removeValue(forKey: slot) else { return }
        let how: String
        switch ending.exit {
        case .exited(let exit):
            if let signal = exit.signal {
                how = "killed by signal \(signal) (\(signalName(signal)))"
                break
            }
            how = "exited with code \(exit.exitCode ?? -1)"
        case .failedToStart(let reason):
            how = reason
        }
        var held = worker.assignments[...]
        if let running = held.popFirst() {
            // Its exec job's process died with it (PDEATHSIG); anything that job left in its group goes too.
            if let group = running.processGroup { ProcessReactor.signalGroup(group, SIGKILL_VALUE) }
            let reason =
                worker.killReason ?? ending.cutOff.map { "\(worker.name) \($0); it was killed while running this job" }
                ?? "\(worker.name) \(how) while running it"
            running.finish(RunOutcome(error: reason, wallSeconds: running.wallSeconds, workerPID: worker.pid))
        }
        // Jobs queued behind it never started: they go first to the next worker with room.
        for assignment in held.reversed() {
            assignment.backstop?.cancel()
            assignment.output.close()
            waiting.prepend(Waiting(assignment))
        }
        let requeued = held.isEmpty ? "" : "; \(held.count) job(s) queued in it go to another worker"
        if worker.state != .retiring || ending.cutOff != nil {
            logger.warning("\(worker.name) \(how); starting a replacement\(requeued)", metadata: ["pid": "\(worker.pid)"])
        }
        handWaitingJobs()
    }

    // MARK: - Status and shutdown

    /// Every slot, in order; a slot between workers shows as `starting` with no pid. A worker's job is the
    /// one it executes; one queued behind it shows only in the scheduler's `running` count.
    public func statuses() -> PoolStatus {
        let held = workers.values.reduce(0) { sum, worker in
            sum + worker.assignments.count - (worker.assignments.first?.started == nil ? 0 : 1)
        }
        // Every worker's, those of slots above a lowered size included: they run their jobs to the end.
        let executing = workers.values.count { $0.assignments.first?.started != nil }
        return PoolStatus(workers: workerStatuses(), notExecuting: waiting.count + held, executing: executing)
    }

    private func workerStatuses() -> [WorkerStatus] {
        (1...size).map { slot in
            guard let worker = workers[slot] else {
                return WorkerStatus(
                    slot: slot, pid: nil, state: wantsWorkers ? .starting : .stopped, jobID: nil, jobsRun: 0, rssBytes: nil)
            }
            let executing = worker.assignments.first.flatMap { $0.started == nil ? nil : $0 }
            return WorkerStatus(
                slot: slot, pid: worker.pid, state: worker.state, jobID: executing?.job.job,
                queued: worker.assignments.count - (executing == nil ? 0 : 1), jobsRun: worker.jobsRun,
                rssBytes: worker.rssBytes)
        }
    }

    /// Retires every worker (idle ones now, busy ones after their jobs) and ends ``supervise()``.
    /// Call it after the dispatcher has drained: jobs still waiting here fail.
    public func shutdown() {
        isShuttingDown = true
        addSlot.finish()
        idleTimer?.cancel()
        let waiters = wanting
        wanting.removeAll()
        for waiter in waiters { waiter.resume() }
        for worker in workers.values where worker.assignments.isEmpty { retire(worker) }
        for waiter in waiting {
            waiter.control.finished()
            waiter.continuation.resume(returning: RunOutcome(error: StopReason.shutdown.failureText, wallSeconds: 0))
        }
        waiting.removeAll()
    }
}
