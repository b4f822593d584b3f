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
    private var waiters: [JobID: [Waiter]] = [:]
    private var isDraining = false
    /// The drain is over: no job will finish in this process any more.
    private var hasDrained = false
    private(set) var finishedSinceStart: Int64 = 0

    private let store: any JobStore
    private let planLoader: PlanLoader
    private let runner: ExecRunner
    private let handlerRunner: HandlerRunner
    private let pool: WorkerPool
    private let registry: HandlerRegistry
    private let profileBook: ProfileBook
    private let configuration: DaemonConfiguration
    private let logger: Logger
    private let launches: AsyncStream<Launch>
    private let launchContinuation: AsyncStream<Launch>.Continuation

    init(
        store: any JobStore, runner: ExecRunner, pool: WorkerPool, registry: HandlerRegistry,
        profileBook: ProfileBook, configuration: DaemonConfiguration, counts: [JobClass: StateCounts], logger: Logger
    ) {
        self.profileBook = profileBook
        self.store = store
        self.planLoader = PlanLoader(store: store)
        self.runner = runner
        self.pool = pool
        self.registry = registry
        self.configuration = configuration
        self.counts = counts
        self.logger = logger
        self.handlerRunner = HandlerRunner(measuresProcessCPU: false, killGrace: configuration.killGrace)
        self.scheduler = Scheduler(limits: Limits(cpuSlots: configuration.cpuSlots, ioSlots: configuration.ioConcurrency))
        (launches, launchContinuation) = AsyncStream.makeStream(of: Launch.self)
    }

    // MARK: - Jobs arriving

    /// Takes newly committed jobs (they are `queued`): counts them and puts them in the ready queues.
    func accept(_ newPlans: [JobPlan]) {
        for plan in newPlans { counts[plan.class, default: StateCounts()].queued += 1 }
        guard !isDraining else { return }  // stored as queued; the next start runs them
        for plan in newPlans {
            if plans.count < Self.plansKeptInMemory { plans[plan.id] = plan }
            enqueue(plan.id, ActiveJob(priority: plan.priority, ownerUID: plan.ownerUID, class: plan.class))
        }
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
            let result = await planLoader.plan(of: launch.id)
            guard case .failure(.unreadable(let reason)) = result, tries < 5 else {
                return result
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
        if let kept = launch.plan {
            plan = kept
            store.recordStarted(plan.id, at: WallClock.now())
            outcome = await run(plan, control: launch.control)
        } else {
            switch await loadPlan(launch) {
            case .success(let loaded):
                plan = loaded
                store.recordStarted(plan.id, at: WallClock.now())
                outcome = await run(plan, control: launch.control)
            case .failure(let failure):
                // Without its row there is nothing to run; the attempt fails and says why.
                plan = await fallbackPlan(launch)
                outcome = RunOutcome(error: "could not read the job from the database: \(failure.reason)", wallSeconds: 0)
            }
        }
        let stop = launch.control.stopReason
        let attemptsUsed = plan.attempts + 1
        let state = AttemptVerdict.state(
            for: outcome, stop: stop, attemptsUsed: attemptsUsed, maxAttempts: plan.maxAttempts)
        let finishedAt = WallClock.now()
        let write: @Sendable () -> CommitTicket = { [store] in
            stop == .shutdown
                ? store.requeue([plan.id]) : store.finish(plan.id, state: state, outcome: outcome, at: finishedAt)
        }
        // Queue the outcome before the slot is freed: the next attempt's writes then land after it.
        let commit = write()
        await attemptEnded(plan, state: state, attemptsUsed: attemptsUsed)
        // After the slot is free: the next job need not wait for the profile update.
        await learn(from: outcome, of: plan, stop: stop)
        // A retry's outcome is not written again: its next attempt's start would land before the rewrite.
        let committed = await commitKeepingOutcome(
            of: plan.id, first: commit, retry: state == .queued && stop != .shutdown ? nil : write)
        logger.debug("job \(plan.id) \(state.rawValue)", metadata: ["job": "\(plan.id)"])
        // Waiters wake only once the outcome is stored: what they then read is what a restart would find.
        if committed { await outcomeCommitted(plan, state: state) }
    }

    /// Awaits an outcome's commit; when it fails (a full disk, an I/O error), keeps the outcome and
    /// writes it again with backoff until it commits, the store closes, or the daemon stops this task.
    /// Until then the row says `running`, so a restart requeues the job: at-least-once holds either way.
    /// - Returns: whether the outcome is stored.
    private nonisolated func commitKeepingOutcome(
        of id: JobID, first: CommitTicket, retry write: (@Sendable () -> CommitTicket)?
    ) async -> Bool {
        var ticket = first
        var delay = Duration.milliseconds(100)
        for failures in 1... {
            do {
                try await ticket.committed()
                if failures > 1 { logger.notice("job \(id): its outcome is stored at last", metadata: ["job": "\(id)"]) }
                return true
            } catch {
                if case StoreError.closed = error { return false }
                guard let write else {
                    logger.error("job \(id): could not store its outcome: \(error)", metadata: ["job": "\(id)"])
                    return false
                }
                logger.error(
                    "job \(id): could not store its outcome (try \(failures)): \(error); trying again in \(delay)",
                    metadata: ["job": "\(id)"])
                do {
                    try await Task.sleep(for: delay)
                } catch {
                    return false  // the daemon is stopping; the next start requeues the job
                }
                delay = min(delay * 2, Self.longestOutcomeRetryDelay)
                ticket = write()
            }
        }
        return false
    }

    /// The longest pause between two tries of an outcome write that the disk refused.
    static let longestOutcomeRetryDelay = Duration.seconds(5)

    /// The two paths of DESIGN §4: a CPU-class job goes to a worker process; an I/O-class one runs here,
    /// as this task (an exec job's child is awaited on the reactor thread, never on this pool).
    private nonisolated func run(_ plan: JobPlan, control: RunControl) async -> RunOutcome {
        let outputPath = "\(configuration.logsDirectory)/\(plan.id).log"
        // Each attempt appends to the one log; the limit is the whole log's, not an attempt's.
        let outputLimit = OutputLog.room(path: outputPath, limit: configuration.outputLimitBytes)
        let timeout = plan.timeoutSeconds.map { Duration.seconds(checked: $0) }  // a stored row may predate the range check
        guard let kind = registry.kind(named: plan.kind) else {
            return RunOutcome(error: "this jobd has no handler named \(plan.kind)", wallSeconds: 0)
        }
        switch (plan.class, kind) {
        case (.cpu, _):
            let job = WorkerJob(
                id: plan.id, kind: plan.kind, payload: plan.payload, argv: plan.argv, environment: plan.env,
                cwd: plan.cwd, identity: identity(for: plan), outputPath: outputPath,
                outputLimit: outputLimit, timeout: timeout)
            return await pool.run(job, control: control)
        case (.io, .exec):
            let job = ExecJob(
                argv: plan.argv ?? [], environment: plan.env, cwd: plan.cwd, identity: identity(for: plan),
                outputPath: outputPath, outputLimit: outputLimit, timeout: timeout)
            return await withTaskGroup(of: RunOutcome?.self) { group in
                group.addTask { await self.runner.run(job, control: control) }
                group.addTask {
                    await self.watchForCPUBurn(plan, control: control)
                    return nil
                }
                var outcome: RunOutcome?
                for await result in group where result != nil {
                    outcome = result
                    group.cancelAll()
                }
                return outcome!
            }
        case (.io, .handler(let handler)):
            let output = OutputAppender(path: outputPath, limit: outputLimit)
            defer { output.close() }
            return await handlerRunner.run(
                handler, payload: plan.payload ?? .null, jobID: plan.id, identity: identity(for: plan),
                output: { output.append($0) },
                control: control, timeout: timeout)
        }
    }

    // MARK: - Learning (DESIGN §3)

    /// A finished run's CPU ratio and CPU demand go into its signature's profile. Not for a run that was cancelled
    /// or stopped at shutdown (killed at once, it says nothing about the work), nor one that never
    /// started, nor an in-daemon handler (its CPU time is not measured).
    private nonisolated func learn(from outcome: RunOutcome, of plan: JobPlan, stop: StopReason?) async {
        guard let signature = plan.signature, outcome.wallSeconds > 0 else { return }
        switch stop {
        case .cancelled, .shutdown: return
        case .timedOut, nil: break
        }
        guard plan.kind == HandlerRegistry.execKind || plan.class == .cpu else { return }
        guard let ratio = outcome.cpuRatio else { return }
        await profileBook.record(
            signature, owner: plan.ownerUID, ratio: ratio, demand: outcome.demandRatio, at: WallClock.now())
    }

    /// While an I/O-class exec job runs in the daemon, reads its process group's CPU demand (CPU + run-queue
    /// wait, from the reactor's sampler) every `reclassifyAfter`; a stretch at or above the upper threshold
    /// switches its signature to `cpu` at once, so the next job of it goes to the pool, and says so in this
    /// job's class reason. Demand, not CPU alone: twelve burners on two cores each get 0.17 of a core, but
    /// each is running or runnable all the time (issue 10).
    private nonisolated func watchForCPUBurn(_ plan: JobPlan, control: RunControl) async {
        guard let signature = plan.signature else { return }
        let window = configuration.reclassifyAfter
        let upper = await profileBook.thresholds.upper  // a reload may change it (ProfileBook.setThresholds)
        var last: (usage: TreeUsage, at: ContinuousClock.Instant)?
        while true {
            do {
                try await Task.sleep(for: window)
            } catch {
                return  // the job ended
            }
            guard let group = control.processGroup, let usage = runner.usage(ofGroup: group) else { continue }
            let now = ContinuousClock.now
            // The first reading has no stretch before it (the sampler's first pass may lag the start).
            guard let previous = last else {
                last = (usage, now)
                continue
            }
            last = (usage, now)
            let elapsed = (now - previous.at).inSeconds
            guard elapsed > 0 else { continue }
            let cpu = max(0, usage.cpuSeconds - previous.usage.cpuSeconds)
            let wait = max(0, usage.waitSeconds - previous.usage.waitSeconds)
            let ratio = cpu / elapsed
            let demand = (cpu + wait) / elapsed
            guard demand >= upper else { continue }
            let profile = await profileBook.recordWhileRunning(
                signature, owner: plan.ownerUID, ratio: ratio, demand: demand, at: WallClock.now())
            let note =
                "reclassified while running: it used \(Profile.format(ratio)) CPU-s per wall-s, "
                + "\(Profile.format(demand)) counting run-queue wait, over "
                + "\(Profile.format(elapsed))s, so \(signature) is now \(profile.effectiveClass?.rawValue ?? "cpu"); "
                + "this job stays io"
            store.updateClassReason(plan.id, reason: (plan.classReason.map { $0 + "; " } ?? "") + note)
            logger.info("job \(plan.id): \(note)", metadata: ["job": "\(plan.id)"])
            return
        }
    }

    /// Only a daemon running as root may run a job as its submitter; otherwise jobs keep our identity.
    private nonisolated func identity(for plan: JobPlan) -> (uid: UInt32, gid: UInt32)? {
        let daemonUID = SystemInfo.userID
        guard daemonUID == 0, plan.ownerUID != 0 else { return nil }
        return (plan.ownerUID, plan.ownerGID)
    }

    /// The attempt's process is gone and its outcome is queued: its slot goes to the next job now.
    private func attemptEnded(_ plan: JobPlan, state: JobState, attemptsUsed: Int) {
        controls[plan.id] = nil
        counts[plan.class, default: StateCounts()].running -= 1
        counts[plan.class, default: StateCounts()][state] += 1
        var actions = scheduler.jobFinished(plan.id)
        if state == .queued && !isDraining {
            var retry = plan
            retry.attempts = attemptsUsed
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
        resumeWaiters(of: plan.id)
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
            _ = try await store.cancelWaiting(id, at: WallClock.now())
        } catch {
            plans[id] = plan
            enqueue(id, job)
            throw error
        }
        counts[job.class, default: StateCounts()].queued -= 1
        counts[job.class, default: StateCounts()].cancelled += 1
        finishedSinceStart += 1
        resumeWaiters(of: id)
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
        return await withCheckedContinuation { continuation in
            let waiter = Waiter(remaining: unfinished.count, continuation: continuation)
            for id in unfinished { waiters[id, default: []].append(waiter) }
        }
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
            id: launch.id, class: launch.class, priority: job?.priority ?? 0, ownerUID: job?.ownerUID ?? 0)
    }

    private func resumeWaiters(of id: JobID) {
        for waiter in waiters.removeValue(forKey: id) ?? [] { waiter.oneFinished() }
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
        await pool.statuses()
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
        let deadline = ContinuousClock.now + grace
        // Polling is fine here: it runs once, at shutdown, for at most the grace period.
        while await runningCount() > 0, ContinuousClock.now < deadline {
            try? await Task.sleep(for: .milliseconds(20))
        }
        for control in await runningControls() { control.stop(.shutdown) }
        let killDeadline = ContinuousClock.now + configuration.killGrace + .seconds(1)
        while await runningCount() > 0, ContinuousClock.now < killDeadline {
            try? await Task.sleep(for: .milliseconds(20))
        }
        let left = await runningCount()
        if left > 0 {
            logger.warning("\(left) jobs did not stop within the kill grace; the next start requeues them")
        }
        launchContinuation.finish()
        await answerWaitersAtShutdown()
    }

    private func beginDrain() { isDraining = true }

    /// Nothing more finishes in this daemon: every client still waiting is told so instead of hanging.
    private func answerWaitersAtShutdown() {
        hasDrained = true
        let pending = waiters
        waiters.removeAll()
        var answered = Set<ObjectIdentifier>()
        for waiter in pending.values.joined() where answered.insert(ObjectIdentifier(waiter)).inserted {
            waiter.shuttingDown()
        }
    }
    private func runningCount() -> Int { controls.count }
    private func runningControls() -> [RunControl] { Array(controls.values) }
    var isShuttingDown: Bool { isDraining }
}

/// A client waiting for some jobs: resumed when the last of them has finished. Touched only on the
/// dispatcher's actor.
private final class Waiter {
    private var remaining: Int
    private let continuation: CheckedContinuation<Bool, Never>

    init(remaining: Int, continuation: CheckedContinuation<Bool, Never>) {
        self.remaining = remaining
        self.continuation = continuation
    }

    func oneFinished() {
        guard remaining > 0 else { return }
        remaining -= 1
        if remaining == 0 { continuation.resume(returning: true) }
    }

    /// The daemon stops before the last job finished; resumes the client once.
    func shuttingDown() {
        guard remaining > 0 else { return }
        remaining = 0
        continuation.resume(returning: false)
    }
}
