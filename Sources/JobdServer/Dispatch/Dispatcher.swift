import JobdHandlers
import JobdProtocol
import JobdRunners
import JobdScheduler
import JobdStore
import Logging

/// Owns the scheduler and everything that changes when a job moves: the waiting and running jobs,
/// jobs, their run controls, the kept counts, and the clients waiting for a job to end.
///
/// Scheduler actions become launches; `run()` turns each launch into a child task, so every running job
/// belongs to the daemon's task tree and shutdown reaches it.
actor Dispatcher {
    /// One job handed to a runner.
    struct Launch: Sendable {
        var id: JobID
        var `class`: JobClass
        /// Nil when the plan was not kept in memory: it is read from the store as the job starts.
        var plan: JobPlan?
        var control: RunControl
    }

    /// A job the dispatcher holds: waiting or running, or finished until its final state has committed.
    /// Small on purpose (16 bytes; fields in this order pack best): a million queued jobs are a million
    /// of these (issue 9). What running it needs is in `plans`, for some of them.
    struct ActiveJob {
        var priority: Int
        var ownerUID: UInt32
        var `class`: JobClass
    }

    /// Waiting jobs whose whole plan (argv, environment, payload) stays in memory; the others are read
    /// from the store, one indexed row, as they start. Bounds the daemon's memory whatever the queue
    /// holds, while a burst of submits still starts without a read per job.
    static let plansKeptInMemory = 10_000

    /// What `cancel` did.
    enum CancelResult {
        /// The job was waiting and is now `cancelled`.
        case cancelledWaiting
        /// The job is running; it has been told to stop and ends `cancelled` when its process is gone.
        case stopping
        /// The dispatcher does not hold the job: it has finished, or never existed.
        case notActive
    }

    private var scheduler: Scheduler
    /// Waiting and running jobs, and finished ones until their final state has committed.
    private var active: [JobID: ActiveJob] = [:]
    /// How many entries of `active` hold their plan.
    /// What running a waiting job needs, kept for at most ``plansKeptInMemory`` of them (and for every
    /// retry); the others are read from the store as they start.
    private var plans: [JobID: JobPlan] = [:]
    private var controls: [JobID: RunControl] = [:]
    private var counts: [JobClass: StateCounts]
    private var waiters = Waiters()
    /// Drains waiting for the last running attempt to end, by token.
    private var idleWaiters: [Int: CheckedContinuation<Void, Never>] = [:]
    private var nextIdleToken = 0
    private var isDraining = false
    /// The drain is over: no job will finish in this process any more.
    private var hasDrained = false
    private(set) var finishedSinceStart: Int64 = 0

    private let store: any JobStore
    private let planLoader: PlanLoader
    private let runners: Runners
    private let completion: Completion
    /// Watches I/O-class commands for CPU burn; nil: none are watched.
    private let burnWatch: CPUBurnWatch?
    private let workerStatuses: @Sendable () async -> [WorkerStatus]
    private let configuration: DaemonConfiguration
    private let logger: Logger
    private let launches: AsyncStream<Launch>
    private let launchContinuation: AsyncStream<Launch>.Continuation

    /// - Parameters:
    ///   - burnWatch: watches I/O-class commands as they run; nil watches none.
    ///   - workerStatuses: the CPU pool's workers, for `status`.
    ///   - now: the time written into rows (a test passes its own clock).
    init(
        store: any JobStore, runners: Runners, profileBook: ProfileBook, burnWatch: CPUBurnWatch?,
        workerStatuses: @escaping @Sendable () async -> [WorkerStatus], configuration: DaemonConfiguration,
        counts: [JobClass: StateCounts], logger: Logger, now: @escaping @Sendable () -> Timestamp = WallClock.now
    ) {
        self.store = store
        self.planLoader = PlanLoader(store: store)
        self.runners = runners
        self.completion = Completion(store: store, profileBook: profileBook, logger: logger, now: now)
        self.burnWatch = burnWatch
        self.workerStatuses = workerStatuses
        self.configuration = configuration
        self.counts = counts
        self.logger = logger
        self.scheduler = Scheduler(limits: Limits(
            cpuSlots: configuration.cpuSlots, ioSlots: configuration.ioConcurrency,
            cpuPrefetch: configuration.cpuSlots * WorkerPool.queuedPerWorker))
        (launches, launchContinuation) = AsyncStream.makeStream(of: Launch.self)
    }

    // MARK: - Jobs arriving

    /// Takes newly committed jobs (they are `queued`): counts them and puts them in the ready queues.
    func accept(_ jobs: [Job]) {
        for job in jobs { counts[job.class, default: StateCounts()].queued += 1 }
        guard !isDraining else { return }  // stored as queued; the next start runs them
        for job in jobs {
            if plans.count < Self.plansKeptInMemory { plans[job.id] = plan(of: job) }
            enqueue(job.id, ActiveJob(priority: job.priority, ownerUID: job.ownerUID, class: job.class))
        }
    }

    /// What running a stored job takes: its attempt, built here once.
    private nonisolated func plan(of job: Job) -> JobPlan {
        JobPlan(job, logsDirectory: configuration.logsDirectory, outputLimit: configuration.outputLimitBytes)
    }

    /// Puts the jobs found `queued` at start-up (already counted) in the ready queues; their plans are
    /// read as they start.
    func enqueue(_ queued: [QueuedJob]) {
        guard !isDraining else { return }
        active.reserveCapacity(active.count + queued.count)
        for job in queued {
            active[job.id] = ActiveJob(priority: job.priority, ownerUID: job.ownerUID, class: job.class)
        }
        perform(scheduler.enqueue(contentsOf: queued.map { ReadyJob(id: $0.id, class: $0.class, priority: $0.priority) }))
    }

    private func enqueue(_ id: JobID, _ job: ActiveJob) {
        active[id] = job
        perform(scheduler.enqueue(ReadyJob(id: id, class: job.class, priority: job.priority)))
    }

    private func perform(_ actions: [SchedulerAction]) {
        for case .start(let id, let jobClass) in actions {
            guard active[id] != nil else { preconditionFailure("scheduler started unknown job \(id)") }
            let control = RunControl()
            controls[id] = control
            counts[jobClass, default: StateCounts()].queued -= 1
            counts[jobClass, default: StateCounts()].running += 1
            launchContinuation.yield(Launch(id: id, class: jobClass, plan: plans.removeValue(forKey: id), control: control))
        }
    }

    /// A job's plan from the store, for one that was not kept in memory. A read error is tried again a
    /// few times (0.1 s doubling, about 3 s in all) before the attempt fails for it: one failed read must
    /// not end a job that the disk would have given back a moment later.
    private nonisolated func loadPlan(_ launch: Launch) async -> Result<JobPlan, PlanLoadFailure> {
        var delay = Duration.milliseconds(100)
        var tries = 1
        while true {
            let result = await planLoader.job(launch.id)
            guard case .failure(.unreadable(let reason)) = result, tries < 5 else {
                return result.map(plan(of:))
            }
            logger.warning(
                "job \(launch.id): could not read it to start it (try \(tries)): \(reason)",
                metadata: ["job": "\(launch.id)"])
            try? await Task.sleep(for: delay)
            delay = delay * 2
            tries += 1
        }
    }


    // MARK: - Running

    /// Runs every launched job as a child task until `drain` has finished the stream.
    nonisolated func run() async {
        await withDiscardingTaskGroup { group in
            for await launch in launches {
                group.addTask { await self.execute(launch) }
            }
        }
    }

    private nonisolated func execute(_ launch: Launch) async {
        let plan: JobPlan
        let outcome: RunOutcome
        let loaded: Result<JobPlan, PlanLoadFailure>
        if let kept = launch.plan { loaded = .success(kept) } else { loaded = await loadPlan(launch) }
        switch loaded {
        case .success(let loaded):
            plan = loaded
            store.recordStarted(plan.id, at: completion.now())
            outcome = await run(plan, control: launch.control)
        case .failure(let failure):
            // Without its row there is nothing to run; the attempt fails and says why.
            plan = await fallbackPlan(launch)
            outcome = RunOutcome(error: "could not read the job from the database: \(failure.reason)", wallSeconds: 0)
        }
        let stop = launch.control.stopReason
        let (state, write) = completion.verdict(on: plan, outcome: outcome, stop: stop)
        // Queue the outcome before the slot is freed: the next attempt's writes then land after it.
        let commit = write()
        await attemptEnded(plan, state: state)
        // After the slot is free: the next job need not wait for the profile update.
        await completion.learn(from: outcome, of: plan, stop: stop)
        // A retry's outcome is not written again: its next attempt's start would land before the rewrite.
        let committed = await completion.commitKeepingOutcome(
            of: plan.id, first: commit, retry: state == .queued && stop != .shutdown ? nil : write)
        logger.debug("job \(plan.id) \(state.rawValue)", metadata: ["job": "\(plan.id)"])
        // Waiters wake only once the outcome is stored: what they then read is what a restart would find.
        if committed { await outcomeCommitted(plan, state: state) }
    }

    /// Runs one attempt on its path's runner; an I/O-class command is watched for CPU burn meanwhile.
    private nonisolated func run(_ plan: JobPlan, control: RunControl) async -> RunOutcome {
        let attempt = plan.startingAttempt()
        let runner = runners.runner(for: plan)
        guard let burnWatch, CPUBurnWatch.applies(to: plan) else {
            return await runner.run(attempt, control: control)
        }
        return await withTaskGroup(of: RunOutcome?.self) { group in
            group.addTask { await runner.run(attempt, control: control) }
            group.addTask {
                await burnWatch.watch(plan, control: control)
                return nil
            }
            var outcome = RunOutcome(error: "the runner returned no outcome", wallSeconds: 0)
            for await case let result? in group {
                outcome = result
                group.cancelAll()
            }
            return outcome
        }
    }

    /// The attempt's process is gone and its outcome is queued: its slot goes to the next job now.
    private func attemptEnded(_ plan: JobPlan, state: JobState) {
        controls[plan.id] = nil
        if controls.isEmpty { resumeIdleWaiters() }
        counts[plan.class, default: StateCounts()].running -= 1
        counts[plan.class, default: StateCounts()][state] += 1
        var actions = scheduler.jobFinished(plan.id)
        if state == .queued && !isDraining {
            var retry = plan
            retry.attempts += 1
            // Kept whatever the budget: its stored attempt count may not have committed yet.
            plans[plan.id] = retry
            actions += scheduler.enqueue(ReadyJob(id: plan.id, class: plan.class, priority: plan.priority))
        }
        if !isDraining { perform(actions) }
    }

    /// The outcome has committed: clients waiting for the job see its final record from now on.
    private func outcomeCommitted(_ plan: JobPlan, state: JobState) {
        guard state.isFinished else { return }  // a retry stays active; a shutdown requeue is left as is
        active[plan.id] = nil
        finishedSinceStart += 1
        waiters.finished(plan.id)
    }

    // MARK: - Control

    /// Cancels a waiting job at once, or tells a running one to stop.
    /// - Throws: a storage error; the job then stays queued.
    func cancel(_ id: JobID) async throws -> CancelResult {
        guard let job = active[id] else { return .notActive }
        guard scheduler.remove(id) else {
            controls[id]?.stop(.cancelled)
            return .stopping
        }
        active[id] = nil
        let plan = plans.removeValue(forKey: id)
        do {
            _ = try await store.cancelWaiting(id, at: completion.now())
        } catch {
            plans[id] = plan
            enqueue(id, job)
            throw error
        }
        counts[job.class, default: StateCounts()].queued -= 1
        counts[job.class, default: StateCounts()].cancelled += 1
        finishedSinceStart += 1
        waiters.finished(id)
        return .cancelledWaiting
    }

    /// Finished jobs were deleted from the store (retention, `io.jobd.Prune`): the kept counts lose them,
    /// per class and state, so `status` shows what the database holds.
    func pruned(_ jobs: [PrunedJob]) {
        for job in jobs { counts[job.class, default: StateCounts()][job.state] -= 1 }
    }

    /// Returns once every job has finished and its final state has committed; at once for jobs that are
    /// not active. One hop onto the actor however many ids: a Wait for a 20,000-job batch is one call.
    /// - Returns: true when they have finished; false when the daemon drained first (the jobs that were
    ///   still waiting or running are requeued for the next start, so no answer will come from this one).
    func waitUntilFinished(_ ids: [JobID]) async -> Bool {
        let unfinished = ids.filter { active[$0] != nil }
        guard !unfinished.isEmpty else { return true }
        if hasDrained { return false }
        return await withCheckedContinuation { continuation in waiters.add(unfinished, continuation) }
    }

    /// Whether the job is waiting or running.
    func isActive(_ id: JobID) -> Bool { active[id] != nil }

    /// The owners of those of these jobs that are waiting or running (for `status`, which shows a user
    /// only their own running jobs).
    func owners(of ids: [JobID]) -> [JobID: UInt32] {
        var found: [JobID: UInt32] = [:]
        for id in ids { found[id] = active[id]?.ownerUID }
        return found
    }

    /// A stand-in plan for a job whose row could not be read: enough to record the failed attempt.
    private func fallbackPlan(_ launch: Launch) -> JobPlan {
        let job = active[launch.id]
        return JobPlan(
            unreadable: launch.id, class: launch.class, priority: job?.priority ?? 0, ownerUID: job?.ownerUID ?? 0)
    }

    // MARK: - Status

    struct Snapshot: Sendable {
        var counts: [JobClass: StateCounts]
        var limits: Limits
        var finishedSinceStart: Int64
    }

    /// New limits (a reload): more slots start waiting jobs at once; fewer let running jobs finish and
    /// start no more until the count is under the new limit.
    func setLimits(_ limits: Limits) {
        guard !isDraining else { return }
        perform(scheduler.setLimits(limits))
    }

    func snapshot() -> Snapshot {
        Snapshot(counts: counts, limits: scheduler.limits, finishedSinceStart: finishedSinceStart)
    }

    /// The CPU pool's workers, for `status`.
    nonisolated func workers() async -> [WorkerStatus] {
        await workerStatuses()
    }

    // MARK: - Shutdown

    /// Stops starting jobs, gives running ones `grace` to finish, stops and requeues the rest, and ends
    /// `run()` once every attempt is recorded.
    ///
    /// **It returns within `grace + killGrace + 1 s`**, whatever jobs and clients do: a stopped job's
    /// processes get SIGKILL after the kill grace, a handler that ignores cancellation loses its slot then,
    /// and a worker job that still has not ended is killed with its worker a second later. An attempt still
    /// unrecorded after that stays `running` in the database, and the next start requeues it. Clients
    /// waiting for jobs that did not finish are answered `ShuttingDown`.
    nonisolated func drain(grace: Duration) async {
        await beginDrain()
        await untilNoneRunning(deadline: .now + grace)
        for control in await runningControls() { control.stop(.shutdown) }
        await untilNoneRunning(deadline: .now + configuration.killGrace + .seconds(1))
        let left = await runningCount()
        if left > 0 {
            logger.warning("\(left) jobs did not stop within the kill grace; the next start requeues them")
        }
        launchContinuation.finish()
        await answerWaitersAtShutdown()
    }

    private func beginDrain() { isDraining = true }

    /// Returns when no attempt is running, or at the deadline, whichever comes first.
    private nonisolated func untilNoneRunning(deadline: ContinuousClock.Instant) async {
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await self.noneRunning() }
            group.addTask { try? await Task.sleep(until: deadline) }
            await group.next()
            group.cancelAll()
        }
    }

    /// Suspends until no attempt runs; a cancelled wait returns at once.
    private func noneRunning() async {
        let token = nextIdleToken
        nextIdleToken += 1
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                if controls.isEmpty || Task.isCancelled {
                    continuation.resume()
                } else {
                    idleWaiters[token] = continuation
                }
            }
        } onCancel: {
            Task { await self.resumeIdleWaiter(token) }
        }
    }

    private func resumeIdleWaiter(_ token: Int) {
        idleWaiters.removeValue(forKey: token)?.resume()
    }

    private func resumeIdleWaiters() {
        let waiting = idleWaiters
        idleWaiters.removeAll()
        for continuation in waiting.values { continuation.resume() }
    }

    /// Nothing more finishes in this daemon: every client still waiting is told so instead of hanging.
    private func answerWaitersAtShutdown() {
        hasDrained = true
        waiters.answerAllAtShutdown()
    }
    private func runningCount() -> Int { controls.count }
    private func runningControls() -> [RunControl] { Array(controls.values) }
    var isShuttingDown: Bool { isDraining }
}
