import JobdHandlers
import JobdProtocol
import JobdRunners
import JobdScheduler
import JobdStore
import Logging

/// Owns the scheduler and everything that changes when a job moves: the plans of waiting and running
/// jobs, their run controls, the kept counts, and the clients waiting for a job to end.
///
/// Scheduler actions become launches; `run()` turns each launch into a child task, so every running job
/// belongs to the daemon's task tree and shutdown reaches it.
actor Dispatcher {
    /// One job handed to a runner.
    struct Launch: Sendable {
        var plan: JobPlan
        var control: RunControl
    }

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
    private var plans: [JobID: JobPlan] = [:]
    private var controls: [JobID: RunControl] = [:]
    private var counts: [JobClass: StateCounts]
    private var waiters: [JobID: [Waiter]] = [:]
    private var isDraining = false
    private(set) var finishedSinceStart: Int64 = 0

    private let store: any JobStore
    private let runner: ExecRunner
    private let handlerRunner = HandlerRunner(measuresProcessCPU: false)
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
        self.runner = runner
        self.pool = pool
        self.registry = registry
        self.configuration = configuration
        self.counts = counts
        self.logger = logger
        self.scheduler = Scheduler(limits: Limits(cpuSlots: configuration.cpuSlots, ioSlots: configuration.ioConcurrency))
        (launches, launchContinuation) = AsyncStream.makeStream(of: Launch.self)
    }

    // MARK: - Jobs arriving

    /// Takes newly committed jobs (they are `queued`): counts them and puts them in the ready queues.
    func accept(_ newPlans: [JobPlan]) {
        for plan in newPlans { counts[plan.class]!.queued += 1 }
        enqueue(newPlans)
    }

    /// Puts jobs in the ready queues: those found `queued` at start-up (already counted), and new ones.
    func enqueue(_ newPlans: [JobPlan]) {
        guard !isDraining else { return }  // stored as queued; the next start runs them
        for plan in newPlans {
            plans[plan.id] = plan
            perform(scheduler.enqueue(ReadyJob(id: plan.id, class: plan.class, priority: plan.priority)))
        }
    }

    private func perform(_ actions: [SchedulerAction]) {
        for case .start(let id, let jobClass) in actions {
            guard let plan = plans[id] else { preconditionFailure("scheduler started unknown job \(id)") }
            let control = RunControl()
            controls[id] = control
            counts[jobClass]!.queued -= 1
            counts[jobClass]!.running += 1
            launchContinuation.yield(Launch(plan: plan, control: control))
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
        let plan = launch.plan
        store.recordStarted(plan.id, at: WallClock.now())
        let outcome = await run(plan, control: launch.control)
        let stop = launch.control.stopReason
        let attemptsUsed = plan.attempts + 1
        let state = AttemptVerdict.state(
            for: outcome, stop: stop, attemptsUsed: attemptsUsed, maxAttempts: plan.maxAttempts)
        // Queue the outcome before the slot is freed: the next attempt's writes then land after it.
        let commit =
            stop == .shutdown
            ? store.requeue([plan.id]) : store.finish(plan.id, state: state, outcome: outcome, at: WallClock.now())
        await attemptEnded(plan, state: state, attemptsUsed: attemptsUsed)
        // After the slot is free: the next job need not wait for the profile update.
        await learn(from: outcome, of: plan, stop: stop)
        do {
            try await commit.committed()
        } catch {
            // The row still says `running`, so the next start requeues the job: at-least-once holds.
            logger.error("job \(plan.id): could not store its outcome: \(error)", metadata: ["job": "\(plan.id)"])
        }
        logger.debug("job \(plan.id) \(state.rawValue)", metadata: ["job": "\(plan.id)"])
        await outcomeCommitted(plan, state: state)
    }

    /// The two paths of DESIGN §4: a CPU-class job goes to a worker process; an I/O-class one runs here,
    /// as this task (an exec job's child is awaited on the reactor thread, never on this pool).
    private nonisolated func run(_ plan: JobPlan, control: RunControl) async -> RunOutcome {
        let outputPath = "\(configuration.logsDirectory)/\(plan.id).log"
        let timeout = plan.timeoutSeconds.map { Duration.seconds(checked: $0) }  // a stored row may predate the range check
        guard let kind = registry.kind(named: plan.kind) else {
            return RunOutcome(error: "this jobd has no handler named \(plan.kind)", wallSeconds: 0)
        }
        switch (plan.class, kind) {
        case (.cpu, _):
            let job = WorkerJob(
                id: plan.id, kind: plan.kind, payload: plan.payload, argv: plan.argv, environment: plan.env,
                cwd: plan.cwd, identity: identity(for: plan), outputPath: outputPath,
                outputLimit: configuration.outputLimitBytes, timeout: timeout)
            return await pool.run(job, control: control)
        case (.io, .exec):
            let job = ExecJob(
                argv: plan.argv ?? [], environment: plan.env, cwd: plan.cwd, identity: identity(for: plan),
                outputPath: outputPath, outputLimit: configuration.outputLimitBytes, timeout: timeout)
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
            let output = OutputAppender(path: outputPath, limit: configuration.outputLimitBytes)
            defer { output.close() }
            return await handlerRunner.run(
                handler, payload: plan.payload ?? .null, jobID: plan.id, identity: identity(for: plan),
                output: { output.append($0) },
                control: control, timeout: timeout)
        }
    }

    // MARK: - Learning (DESIGN §3)

    /// A finished run's CPU ratio goes into its signature's profile. Not for a run that was cancelled
    /// or stopped at shutdown (killed at once, it says nothing about the work), nor one that never
    /// started, nor an in-daemon handler (its CPU time is not measured).
    private nonisolated func learn(from outcome: RunOutcome, of plan: JobPlan, stop: StopReason?) async {
        guard let signature = plan.signature, outcome.wallSeconds > 0 else { return }
        switch stop {
        case .cancelled, .shutdown: return
        case .timedOut, nil: break
        }
        guard plan.kind == HandlerRegistry.execKind || plan.class == .cpu else { return }
        let ratio = (outcome.cpuUserSeconds + outcome.cpuSystemSeconds) / outcome.wallSeconds
        await profileBook.record(signature, ratio: ratio, at: WallClock.now())
    }

    /// While an I/O-class exec job runs in the daemon, samples its process group's CPU time every
    /// `reclassifyAfter`; a stretch above the upper threshold switches its signature to `cpu` at once,
    /// so the next job of it goes to the pool, and says so in this job's class reason.
    private nonisolated func watchForCPUBurn(_ plan: JobPlan, control: RunControl) async {
        guard let signature = plan.signature else { return }
        let window = configuration.reclassifyAfter
        let upper = await profileBook.thresholds.upper
        var lastCPU = 0.0
        while true {
            do {
                try await Task.sleep(for: window)
            } catch {
                return  // the job ended
            }
            guard let group = control.processGroup else { continue }
            let cpu = SystemInfo.processGroupCPUSeconds(group)
            let ratio = (cpu - lastCPU) / window.inSeconds
            lastCPU = cpu
            guard ratio >= upper else { continue }
            let profile = await profileBook.recordWhileRunning(signature, ratio: ratio, at: WallClock.now())
            let note =
                "reclassified while running: it used \(Profile.format(ratio)) CPU-s per wall-s over "
                + "\(window.inSeconds)s, so \(signature) is now \(profile.effectiveClass?.rawValue ?? "cpu"); "
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
        counts[plan.class]!.running -= 1
        counts[plan.class]![state] += 1
        var actions = scheduler.jobFinished(plan.id)
        if state == .queued && !isDraining {
            var retry = plan
            retry.attempts = attemptsUsed
            plans[plan.id] = retry
            actions += scheduler.enqueue(ReadyJob(id: plan.id, class: plan.class, priority: plan.priority))
        }
        if !isDraining { perform(actions) }
    }

    /// The outcome has committed: clients waiting for the job see its final record from now on.
    private func outcomeCommitted(_ plan: JobPlan, state: JobState) {
        guard state.isFinished else { return }  // a retry stays active; a shutdown requeue is left as is
        plans[plan.id] = nil
        finishedSinceStart += 1
        resumeWaiters(of: plan.id)
    }

    // MARK: - Control

    /// Cancels a waiting job at once, or tells a running one to stop.
    /// - Throws: a storage error; the job then stays queued.
    func cancel(_ id: JobID) async throws -> CancelResult {
        guard let plan = plans[id] else { return .notActive }
        guard scheduler.remove(id) else {
            controls[id]?.stop(.cancelled)
            return .stopping
        }
        plans[id] = nil
        do {
            _ = try await store.cancelWaiting(id, at: WallClock.now())
        } catch {
            enqueue([plan])
            throw error
        }
        counts[plan.class]!.queued -= 1
        counts[plan.class]!.cancelled += 1
        finishedSinceStart += 1
        resumeWaiters(of: id)
        return .cancelledWaiting
    }

    /// Returns once every job has finished and its final state has committed; at once for jobs that are
    /// not active. One hop onto the actor however many ids: a Wait for a 20,000-job batch is one call.
    func waitUntilFinished(_ ids: [JobID]) async {
        let active = ids.filter { plans[$0] != nil }
        guard !active.isEmpty else { return }
        await withCheckedContinuation { continuation in
            let waiter = Waiter(remaining: active.count, continuation: continuation)
            for id in active { waiters[id, default: []].append(waiter) }
        }
    }

    func waitUntilFinished(_ id: JobID) async {
        await waitUntilFinished([id])
    }

    /// Whether the job is waiting or running.
    func isActive(_ id: JobID) -> Bool { plans[id] != nil }

    private func resumeWaiters(of id: JobID) {
        for waiter in waiters.removeValue(forKey: id) ?? [] { waiter.oneFinished() }
    }

    // MARK: - Status

    struct Snapshot: Sendable {
        var counts: [JobClass: StateCounts]
        var limits: Limits
        var finishedSinceStart: Int64
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
    nonisolated func drain(grace: Duration) async {
        await beginDrain()
        let deadline = ContinuousClock.now + grace
        // Polling is fine here: it runs once, at shutdown, for at most the grace period.
        while await runningCount() > 0, ContinuousClock.now < deadline {
            try? await Task.sleep(for: .milliseconds(20))
        }
        for control in await runningControls() { control.stop(.shutdown) }
        while await runningCount() > 0 {
            try? await Task.sleep(for: .milliseconds(20))
        }
        launchContinuation.finish()
    }

    private func beginDrain() { isDraining = true }
    private func runningCount() -> Int { controls.count }
    private func runningControls() -> [RunControl] { Array(controls.values) }
    var isShuttingDown: Bool { isDraining }
}

/// A client waiting for some jobs: resumed when the last of them has finished. Touched only on the
/// dispatcher's actor.
private final class Waiter {
    private var remaining: Int
    private let continuation: CheckedContinuation<Void, Never>

    init(remaining: Int, continuation: CheckedContinuation<Void, Never>) {
        self.remaining = remaining
        self.continuation = continuation
    }

    func oneFinished() {
        remaining -= 1
        if remaining == 0 { continuation.resume() }
    }
}
