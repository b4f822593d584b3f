import JobdHandlers
import JobdProtocol
import JobdRunners
import JobdScheduler
import JobdStore
import Logging
import Synchronization

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
        /// For a retry read from the store: the attempts it has had at least (the store's count may lag).
        var attemptsAtLeast: Int?
        var control: RunControl
    }

    /// A job the dispatcher holds: waiting or running, or finished until its final state has committed.
    /// Small on purpose (16 bytes; fields in this order pack best, and the priority is narrowed to 32 bits
    /// to make room for the due time): a million queued jobs are a million of these (issue 9). What
    /// running it needs is in `plans`, for some of them.
    struct ActiveJob {
        var priority: Int32
        var ownerUID: UInt32
        /// Its `run_at`, else its submit time (``DueTime``): where it goes among jobs of its priority. Moves
        /// with each retry, as the stored `run_at` does, so a restart rebuilds the same order.
        var due: DueTime
        var queue: QueueID
        var `class`: JobClass

        /// What the scheduler orders it by.
        func ready(_ id: JobID) -> ReadyJob {
            ReadyJob(id: id, class: `class`, priority: Int(priority), queue: queue, due: due)
        }
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
    /// The queue names in use, numbered (bounded: ``QueueNames/capacity``): each job in `active` holds its
    /// queue's name, and so does each queue in `controlledQueues`.
    private var queueNames = QueueNames()
    /// Queues with a limit or a pause.
    private var controlledQueues: Set<QueueID> = []
    /// For each user, the queues other than `default` their jobs in `active` hold, and how many jobs each
    /// (bounded at submit: ``QueueNames/perUser``).
    private var queuesByOwner: [UInt32: [QueueID: Int]] = [:]
    /// Jobs that may not start yet (a delay, a retry's backoff), and the one timer for the earliest.
    private var due = DueQueue()
    private var dueTimer: Task<Void, Never>?
    /// When the armed timer fires (seconds since the epoch).
    private var timerDue: Double?
    /// Jobs that wait for others (`after`): how many of those have not ended yet, and when the job may
    /// start once they all succeeded.
    private var blocked: [JobID: (remaining: Int, runAt: Double?)] = [:]
    /// For each unfinished job that others wait for: those others.
    private var dependents: [JobID: [JobID]] = [:]
    /// The other way: for each blocked job, its owner and the jobs it was registered with in `dependents`,
    /// so a job that ends early leaves no entry behind in their lists.
    private var waitsOn: [JobID: (owner: UInt32, jobs: [JobID])] = [:]
    /// How many entries of `waitsOn` each user's jobs hold, bounded at submit
    /// (``JobLimits/maximumWaitingDependenciesPerUser``).
    private var waitingDependencies: [UInt32: Int] = [:]
    /// Dependencies of submits admitted and not yet stored, per user: counted against the bound with
    /// `waitingDependencies`, so concurrent submits cannot each pass it on the same room.
    private var reservedDependencies: [UInt32: Int] = [:]
    /// Queue names held by admissions not yet stored, per user and name (see ``Admission``).
    private var pendingQueues: [UInt32: [QueueID: Int]] = [:]
    /// Waiting and running jobs, and finished ones until their final state has committed.
    private var active: [JobID: ActiveJob] = [:]
    /// What running a waiting job needs, for some of the jobs ready to start (``KeptPlans``); the others
    /// are read from the store as they start.
    private var plans = KeptPlans()
    private var controls: [JobID: RunControl] = [:]
    /// Attempts that have ended but whose outcome has not committed yet: the drain waits for them too, so
    /// a job that finished within the grace is answered as finished, not as "shutting down".
    private var outcomesInFlight = 0
    /// Waiting jobs whose cancel is being written: out of every queue, still active until it commits.
    private var cancelling: Set<JobID> = []
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
    private let workerStatuses: @Sendable () async -> PoolStatus
    /// Submits on-finish hooks as jobs; nil: none run.
    private let hooks: Hooks?
    /// The latest job transitions, oldest first, with their owners (`io.jobd.Watch` shows a user their own).
    private var recent: [(transition: JobTransition, owner: UInt32)] = []
    /// Told of every transition (`io.jobd.Watch` streams wake).
    private let transitioned: @Sendable () -> Void
    /// How many transitions ``recent`` keeps.
    static let recentTransitions = 50
    /// The running configuration: a reload changes the live settings among it (ConfigurationChange).
    private let configuration: Setting<DaemonConfiguration>
    private let logger: Logger
    private let launches: AsyncStream<Launch>
    private let launchContinuation: AsyncStream<Launch>.Continuation

    /// - Parameters:
    ///   - burnWatch: watches I/O-class commands as they run; nil watches none.
    ///   - workerStatuses: the CPU pool's workers, for `status`.
    ///   - now: the time written into rows (a test passes its own clock).
    ///   - finished: told of every job that ends (its output's followers wake).
    init(
        store: any JobStore, runners: Runners, profileBook: ProfileBook, burnWatch: CPUBurnWatch?,
        workerStatuses: @escaping @Sendable () async -> PoolStatus, configuration: Setting<DaemonConfiguration>,
        counts: [JobClass: StateCounts], logger: Logger, now: @escaping @Sendable () -> Timestamp = WallClock.now,
        finished: @escaping @Sendable (JobID) -> Void = { _ in }, hooks: Hooks? = nil,
        transitioned: @escaping @Sendable () -> Void = {}
    ) {
        self.hooks = hooks
        self.transitioned = transitioned
        self.waiters.onFinished = finished
        self.store = store
        self.planLoader = PlanLoader(store: store)
        self.runners = runners
        self.completion = Completion(store: store, profileBook: profileBook, logger: logger, now: now)
        self.burnWatch = burnWatch
        self.workerStatuses = workerStatuses
        self.configuration = configuration
        self.counts = counts
        self.logger = logger
        self.scheduler = Scheduler(limits: configuration.limits)
        (launches, launchContinuation) = AsyncStream.makeStream(of: Launch.self)
    }

    // MARK: - Jobs arriving

    /// Takes newly committed jobs (`queued`, or `scheduled` until their `run_at`): counts them and puts
    /// them in the ready queues or on the timer.
    /// A job that waits for others (`waitsFor`, the unfinished ones) starts once they all succeeded.
    /// Jobs stored by an admitted submit: they take their queues and dependencies over from the admission
    /// in one step (the jobs hold first, then the admission lets go), so the bounds never see them twice
    /// or not at all.
    func accept(_ jobs: [(job: Job, waitsFor: [JobID])], admitted admission: Admission) {
        accept(jobs)
        unreserve(admission)
    }

    func accept(_ jobs: [(job: Job, waitsFor: [JobID])]) {
        for (job, _) in jobs {
            counts[job.class, default: StateCounts()][job.state] += 1
            recent.append((JobTransition(id: job.id, state: job.state, class: job.class, at: completion.now()), job.ownerUID))
        }
        trimRecent()
        guard !isDraining else { return }  // stored as queued or scheduled; the next start runs them
        for (job, waitsFor) in jobs {
            // Only a job that may start now keeps its plan: one delayed, or waiting for others, is read when due.
            if waitsFor.isEmpty && job.state == .queued { plans.keep(plan(of: job)) }
            let active = ActiveJob(
                priority: Int32(clamping: job.priority), ownerUID: job.ownerUID,
                due: DueTime(job.runAt ?? job.createdAt), queue: holdQueue(job.queue, for: job.ownerUID),
                class: job.class)
            if !waitsFor.isEmpty {
                self.active[job.id] = active
                block(job.id, on: waitsFor, runAt: job.runAt?.secondsSinceEpoch)
            } else if job.state == .scheduled, let runAt = job.runAt {
                self.active[job.id] = active
                due.add(job.id, due: runAt.secondsSinceEpoch)
            } else {
                enqueue(job.id, active)
            }
        }
        armTimer()
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
        var ready: [ReadyJob] = []
        ready.reserveCapacity(queued.count)
        for job in queued {
            let held = activeJob(job)
            active[job.id] = held
            ready.append(held.ready(job.id))
        }
        perform(scheduler.enqueue(contentsOf: ready))
    }

    /// A finished job queued again (`io.jobd.Retry`, stored): counted out of its old state, and queued.
    func retried(_ job: Job, was state: JobState) {
        counts[job.class, default: StateCounts()][state] -= 1
        guard active[job.id] == nil else {
            // Its end reached the store but not yet this dispatcher (``isHeld(_:)`` is checked before a
            // retry; this is the rest of that race): the row is queued, and the next start runs it.
            logger.warning("job \(job.id): retried while its end was on its way; it runs at the next start", metadata: ["job": "\(job.id)"])
            return
        }
        accept([(job, [])])
    }

    /// Notes a transition for `io.jobd.Watch`, and wakes its streams.
    private func record(_ id: JobID, _ state: JobState, _ job: ActiveJob) {
        recent.append((JobTransition(id: id, state: state, class: job.class, at: completion.now()), job.ownerUID))
        trimRecent()
    }

    private func trimRecent() {
        if recent.count > Self.recentTransitions * 2 { recent.removeFirst(recent.count - Self.recentTransitions) }
        transitioned()
    }

    /// The latest transitions `owner` may see (nil: all), newest first.
    func recentTransitions(visibleTo owner: UInt32?) -> [JobTransition] {
        recent.reversed().lazy.filter { owner == nil || $0.owner == owner }.prefix(Self.recentTransitions).map(\.transition)
    }

    /// Whether the dispatcher still holds a job (waiting, running, or finished but not yet stored).
    func isHeld(_ id: JobID) -> Bool { active[id] != nil }

    /// Puts the jobs found `scheduled` at start-up (already counted) on the timer; those whose time has
    /// passed while jobd was down start at once.
    func schedule(_ scheduled: [(job: QueuedJob, runAt: Timestamp?)], dependencies: [(job: JobID, dependsOn: JobID)]) {
        guard !isDraining else { return }
        var waitsFor: [JobID: [JobID]] = [:]
        for edge in dependencies { waitsFor[edge.job, default: []].append(edge.dependsOn) }
        for (job, _) in scheduled {
            active[job.id] = activeJob(job)
        }
        for (job, runAt) in scheduled {
            if let waits = waitsFor[job.id] {
                block(job.id, on: waits, runAt: runAt?.secondsSinceEpoch)
            } else {
                due.add(job.id, due: runAt?.secondsSinceEpoch ?? 0)
            }
        }
        armTimer()
    }

    // MARK: - Dependencies

    /// Holds `id` until every job in `waitsFor` has succeeded. One that is no longer active ended between
    /// the submit's commit and now: the store has already applied its end to `id`, so its final state is
    /// read back and applied here too.
    private func block(_ id: JobID, on waitsFor: [JobID], runAt: Double?) {
        blocked[id] = (waitsFor.count, runAt)
        let owner = active[id]?.ownerUID ?? 0
        waitsOn[id] = (owner, waitsFor)
        waitingDependencies[owner, default: 0] += waitsFor.count
        for dependency in waitsFor {
            dependents[dependency, default: []].append(id)
            if active[dependency] == nil {
                // Not (yet, or no longer) held here: its end may be stored already. Registered first, then
                // read, so an end that arrives meanwhile is applied once, by whichever sees it first.
                Task { await self.checkLateDependency(dependency, of: id) }
            }
        }
    }

    private nonisolated func checkLateDependency(_ dependency: JobID, of id: JobID) async {
        let state: JobState
        do {
            state = try await store.job(dependency)?.state ?? .cancelled  // pruned: it cannot succeed now
        } catch {
            return  // still registered: its end, when the dispatcher sees it, releases or cancels the job
        }
        guard state.isFinished else { return }
        await settleLateDependency(dependency, of: id, ended: state)
    }

    /// Applies a dependency's stored end to one waiting job, unless ``dependencyEnded(_:state:)`` did.
    private func settleLateDependency(_ dependency: JobID, of id: JobID, ended state: JobState) {
        guard var waiting = dependents[dependency], let index = waiting.firstIndex(of: id) else { return }
        waiting.remove(at: index)
        dependents[dependency] = waiting.isEmpty ? nil : waiting
        if state == .succeeded {
            oneDependencySucceeded(for: id)
        } else {
            cancelWaitingJobs([id], because: dependency, ended: state)
        }
    }

    /// Takes a job that no longer waits out of the lists of the jobs it waited for.
    private func forgetWaits(of id: JobID) {
        guard let waits = takeWaits(of: id) else { return }
        for dependency in waits {
            guard var waiting = dependents[dependency], let index = waiting.firstIndex(of: id) else { continue }
            waiting.remove(at: index)
            dependents[dependency] = waiting.isEmpty ? nil : waiting
        }
    }

    /// Removes a job's entry from `waitsOn`, and from its owner's count. - Returns: the jobs it waited for.
    private func takeWaits(of id: JobID) -> [JobID]? {
        guard let waits = waitsOn.removeValue(forKey: id) else { return nil }
        let left = (waitingDependencies[waits.owner] ?? 0) - waits.jobs.count
        waitingDependencies[waits.owner] = left > 0 ? left : nil
        return waits.jobs
    }

    /// Checks `admission` against the bounds (queue names, the caller's queues and dependencies) and, if
    /// it fits, reserves it: its names held, its dependencies counted, until ``accept(_:admitted:)`` or
    /// ``unreserve(_:)``.
    func reserve(_ admission: Admission) throws(Admission.Refusal) {
        if let full = queueNames.firstWithoutRoom(in: admission.queues) { throw .queueNamesFull(full) }
        if !admission.isOperator {
            let held = Set((queuesByOwner[admission.owner] ?? [:]).keys).union((pendingQueues[admission.owner] ?? [:]).keys)
            let new = admission.queues.filter { name in
                name != "default" && queueNames.existingID(for: name).map { !held.contains($0) } ?? true
            }
            if held.count + new.count > QueueNames.perUser { throw .tooManyQueues(held: held.count) }
        }
        if admission.dependencies > 0 {
            let now = (waitingDependencies[admission.owner] ?? 0) + (reservedDependencies[admission.owner] ?? 0)
            if now + admission.dependencies > JobLimits.maximumWaitingDependenciesPerUser {
                throw .tooManyDependencies(held: now)
            }
            reservedDependencies[admission.owner, default: 0] += admission.dependencies
        }
        for name in admission.queues {
            guard let id = queueNames.hold(name) else { continue }  // checked above: there was room
            pendingQueues[admission.owner, default: [:]][id, default: 0] += 1
        }
    }

    /// An admission whose jobs were not stored (refused, the store failed, a schedule only checked): what
    /// it reserved goes back.
    func unreserve(_ admission: Admission) {
        if admission.dependencies > 0 {
            let left = (reservedDependencies[admission.owner] ?? 0) - admission.dependencies
            reservedDependencies[admission.owner] = left > 0 ? left : nil
        }
        for name in admission.queues {
            guard let id = queueNames.existingID(for: name), var pending = pendingQueues[admission.owner],
                let count = pending[id]
            else { continue }
            pending[id] = count > 1 ? count - 1 : nil
            pendingQueues[admission.owner] = pending.isEmpty ? nil : pending
            release(id)
        }
    }

    /// A job ended and its end is stored: the jobs waiting for it go on (it succeeded) or end `cancelled`
    /// with it, transitively (the store made the same change in the same transaction).
    private func dependencyEnded(_ id: JobID, state: JobState) {
        guard let waiting = dependents.removeValue(forKey: id) else { return }
        if state == .succeeded {
            for job in waiting { oneDependencySucceeded(for: job) }
        } else {
            cancelWaitingJobs(waiting, because: id, ended: state)
        }
    }

    private func oneDependencySucceeded(for id: JobID) {
        guard var entry = blocked[id] else { return }  // cancelled meanwhile
        entry.remaining -= 1
        guard entry.remaining <= 0 else {
            blocked[id] = entry
            return
        }
        blocked[id] = nil
        _ = takeWaits(of: id)
        guard let job = active[id] else { return }
        if let runAt = entry.runAt, runAt > completion.now().secondsSinceEpoch {
            due.add(id, due: runAt)  // still `scheduled`: its own time is ahead
            armTimer()
        } else {
            counts[job.class, default: StateCounts()].scheduled -= 1
            counts[job.class, default: StateCounts()].queued += 1
            if !isDraining { perform(scheduler.enqueue(job.ready(id))) }
        }
    }

    /// Ends waiting jobs `cancelled` because `dependency` ended without success, and every job that waits
    /// for them in turn.
    private func cancelWaitingJobs(_ ids: [JobID], because dependency: JobID, ended state: JobState) {
        var pending = ids
        while let id = pending.popLast() {
            guard blocked.removeValue(forKey: id) != nil, let job = removeActive(id) else { continue }
            forgetWaits(of: id)
            record(id, .cancelled, job)
            plans.drop(id)
            counts[job.class, default: StateCounts()].scheduled -= 1
            counts[job.class, default: StateCounts()].cancelled += 1
            finishedSinceStart += 1
            waiters.finished(id)
            pending += dependents.removeValue(forKey: id) ?? []
        }
        logger.info(
            "jobs waiting for job \(dependency) are cancelled: it ended \(state.rawValue)",
            metadata: ["job": "\(dependency)"])
    }

    /// A job read at start-up, as the dispatcher holds it (holding its queue's name).
    private func activeJob(_ job: QueuedJob) -> ActiveJob {
        ActiveJob(
            priority: Int32(clamping: job.priority), ownerUID: job.ownerUID, due: DueTime(job.dueAt),
            queue: holdQueue(job.queue, for: job.ownerUID), class: job.class)
    }

    /// The number of a queue a job enters `active` in, held until ``removeActive(_:)``. A name past the
    /// bound (numbered by another call between a submit's check and its jobs' arrival, or a database from
    /// a jobd without the bound) runs in `default`, and says so.
    private func holdQueue(_ name: String, for owner: UInt32) -> QueueID {
        guard let id = queueNames.hold(name) else {
            logger.warning("queue \(name) runs as default: jobd holds \(QueueNames.capacity) queue names already")
            return queueNames.hold("default") ?? .default
        }
        if id != .default { queuesByOwner[owner, default: [:]][id, default: 0] += 1 }
        return id
    }

    /// Takes a job out of `active`, giving back its hold on its queue's name.
    private func removeActive(_ id: JobID) -> ActiveJob? {
        guard let job = active.removeValue(forKey: id) else { return nil }
        if job.queue != .default, var held = queuesByOwner[job.ownerUID], let count = held[job.queue] {
            held[job.queue] = count > 1 ? count - 1 : nil
            queuesByOwner[job.ownerUID] = held.isEmpty ? nil : held
        }
        release(job.queue)
        return job
    }

    private func release(_ queue: QueueID) {
        if queueNames.release(queue) { scheduler.forget(queue) }
    }

    // MARK: - Queues

    /// Checks, before a submit stores anything, that its queues can be numbered; they are numbered when
    /// its jobs arrive, so a refused submit takes up no names.
    /// - Returns: the first name that could not be numbered (``QueueNames/capacity`` names are taken).
    func roomFor(queues: Set<String>) -> String? {
        queueNames.firstWithoutRoom(in: queues)
    }


    /// Limits and pauses read at start-up.
    func apply(_ controls: [SchedulingControl]) {
        for control in controls { apply(control) }
    }

    /// A limit or pause an operator set (already stored): applied at once; what may start now starts.
    func apply(_ control: SchedulingControl) {
        var actions: [SchedulerAction] = []
        switch control.target {
        case .queue(let name):
            let isControlled = control.limit != nil || control.paused
            var queue = queueNames.existingID(for: name)
            if queue == nil, isControlled {
                guard let id = queueNames.hold(name) else {
                    logger.warning("the limit and pause of queue \(name) apply at the next start: jobd holds \(QueueNames.capacity) queue names already")
                    return
                }
                controlledQueues.insert(id)
                queue = id
            }
            guard let queue else { return }  // nothing holds it, and nothing is set: nothing to do
            actions += scheduler.setLimit(control.limit, of: queue)
            actions += scheduler.setPaused(.queue(queue), control.paused)
            if isControlled, !controlledQueues.contains(queue) {
                _ = queueNames.hold(name)
                controlledQueues.insert(queue)
            } else if !isControlled, controlledQueues.remove(queue) != nil {
                release(queue)
            }
        case .jobClass(let jobClass):
            actions += scheduler.setPaused(.jobClass(jobClass), control.paused)
        case .all:
            actions += scheduler.setPaused(.all, control.paused)
        }
        if !isDraining { perform(actions) }
    }

    /// The limit and pause a target has now.
    func control(for target: SchedulingControl.Target) -> SchedulingControl {
        switch target {
        case .queue(let name):
            guard let queue = queueNames.existingID(for: name) else { return SchedulingControl(target: target) }
            return SchedulingControl(
                target: target, limit: scheduler.queueLimitsSet[queue], paused: scheduler.pauses.contains(.queue(queue)))
        case .jobClass(let jobClass):
            return SchedulingControl(target: target, paused: scheduler.pauses.contains(.jobClass(jobClass)))
        case .all:
            return SchedulingControl(target: target, paused: scheduler.pauses.contains(.all))
        }
    }

    /// Queues with a limit, a pause or a running job, and the paused classes (`all` first), for `status`.
    private func queueSnapshot() -> (queues: [QueueInfo], paused: [String]) {
        let limits = scheduler.queueLimitsSet
        let pauses = scheduler.pauses
        var shown = Set(limits.keys)
        for case .queue(let queue) in pauses { shown.insert(queue) }
        for job in controls.keys.compactMap({ active[$0]?.queue }) { shown.insert(job) }
        let queues = shown.sorted().map { queue in
            QueueInfo(
                name: queueNames.name(of: queue), limit: limits[queue], paused: pauses.contains(.queue(queue)),
                running: scheduler.runningCount(of: queue))
        }
        var paused: [String] = pauses.contains(.all) ? ["all"] : []
        for jobClass in JobClass.allCases where pauses.contains(.jobClass(jobClass)) { paused.append(jobClass.rawValue) }
        return (queues, paused)
    }

    // MARK: - The timer

    /// Keeps one timer task, set for the earliest due job; re-armed when that changes.
    private func armTimer() {
        guard !isDraining else { return }
        let next = due.nextDue()
        guard next != timerDue else { return }
        dueTimer?.cancel()
        timerDue = next
        guard let next else {
            dueTimer = nil
            return
        }
        let wait = next - completion.now().secondsSinceEpoch
        dueTimer = Task {
            if wait > 0 {
                do {
                    try await Task.sleep(for: .seconds(checked: wait))
                } catch {
                    return  // re-armed for another time, or the daemon is draining
                }
            }
            self.startDueJobs()
        }
    }

    /// Moves every job whose time has come to the ready queues.
    private func startDueJobs() {
        timerDue = nil
        guard !isDraining else { return }
        let ids = due.popDue(at: completion.now().secondsSinceEpoch)
        if !ids.isEmpty {
            store.markDue(ids)
            var ready: [ReadyJob] = []
            for id in ids {
                guard let job = active[id] else { continue }
                counts[job.class, default: StateCounts()].scheduled -= 1
                counts[job.class, default: StateCounts()].queued += 1
                ready.append(job.ready(id))
            }
            perform(scheduler.enqueue(contentsOf: ready))
        }
        armTimer()
    }

    private func enqueue(_ id: JobID, _ job: ActiveJob) {
        active[id] = job
        perform(scheduler.enqueue(job.ready(id)))
    }

    private func perform(_ actions: [SchedulerAction]) {
        for case .start(let id, let jobClass) in actions {
            // Never a trap: a job the dispatcher no longer holds gives its slot straight back.
            guard active[id] != nil else {
                logger.error("job \(id): the scheduler started a job that is no longer waiting; skipped", metadata: ["job": "\(id)"])
                perform(scheduler.jobFinished(id))
                continue
            }
            let control = RunControl()
            controls[id] = control
            // An I/O job begins at once; a CPU job may wait in a worker, and is news when it begins.
            if jobClass == .io, let job = active[id] { record(id, .running, job) }
            counts[jobClass, default: StateCounts()].queued -= 1
            counts[jobClass, default: StateCounts()].running += 1
            let kept = plans.take(id)
            launchContinuation.yield(
                Launch(id: id, class: jobClass, plan: kept.plan, attemptsAtLeast: kept.attemptsAtLeast, control: control))
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
        if let kept = launch.plan {
            loaded = .success(kept)
        } else {
            loaded = await loadPlan(launch).map { stored in
                var plan = stored
                plan.attempts = max(plan.attempts, launch.attemptsAtLeast ?? 0)
                return plan
            }
        }
        switch loaded {
        case .success(let loaded):
            plan = loaded
            // `running` and `started_at` from the moment the attempt executes, not from its hand-over: a CPU
            // job may wait in a worker behind the one it runs (issue 18).
            let (store, completion, id, jobClass) = (store, completion, plan.id, plan.class)
            launch.control.onBegin {
                store.recordStarted(id, at: completion.now())
                if jobClass == .cpu { Task { await self.began(id) } }
            }
            outcome = await run(plan, control: launch.control)
            // Stopped before it began (cancelled while it waited for a worker): its attempt still counts.
            if launch.control.beginUnannounced() { store.recordStarted(id, at: completion.now()) }
        case .failure(let failure):
            // Without its row there is nothing to run; the attempt fails and says why.
            plan = await fallbackPlan(launch)
            outcome = RunOutcome(error: "could not read the job from the database: \(failure.reason)", wallSeconds: 0)
        }
        let stop = launch.control.stopReason
        let (state, retryAt, write) = completion.verdict(on: plan, outcome: outcome, stop: stop)
        // Queue the outcome before the slot is freed: the next attempt's writes then land after it, the
        // start of the job its worker runs next included.
        let commit = write()
        launch.control.outcomeQueued()
        await attemptEnded(plan, state: state, retryAt: retryAt)
        // After the slot is free: the next job need not wait for the profile update.
        await completion.learn(from: outcome, of: plan, stop: stop)
        // A retry's outcome is not written again: its next attempt's start would land before the rewrite.
        let committed = await completion.commitKeepingOutcome(
            of: plan.id, first: commit, retry: state == .queued && stop != .shutdown ? nil : write)
        logger.debug("job \(plan.id) \(state.rawValue)", metadata: ["job": "\(plan.id)"])
        // Waiters wake only once the outcome is stored: what they then read is what a restart would find.
        await outcomeWritten(plan, state: state, committed: committed)
    }

    /// Runs one attempt on its path's runner; an I/O-class command is watched for CPU burn meanwhile.
    private nonisolated func run(_ plan: JobPlan, control: RunControl) async -> RunOutcome {
        let attempt = plan.startingAttempt(outputLimit: configuration.outputLimitBytes)
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

    /// A CPU job handed to a worker began to execute there (`watch` shows it running from now on).
    private func began(_ id: JobID) {
        if let job = active[id] { record(id, .running, job) }
    }

    /// The attempt's process is gone and its outcome is queued: its slot goes to the next job now.
    private func attemptEnded(_ plan: JobPlan, state: JobState, retryAt: Timestamp?) {
        controls[plan.id] = nil
        outcomesInFlight += 1
        counts[plan.class, default: StateCounts()].running -= 1
        counts[plan.class, default: StateCounts()][retryAt == nil ? state : .scheduled] += 1
        // While draining the scheduler is frozen: a freed slot would mark the next job running in it, and a
        // job it thinks runs could then no longer be cancelled as the waiting job it is.
        guard !isDraining else { return }
        var actions = scheduler.jobFinished(plan.id)
        if state == .queued && !isDraining {
            // The failed attempt is news too (`watch`): the job waits for its next one, in its backoff or
            // queued. Its final state is recorded when its last attempt's outcome is stored.
            if let job = active[plan.id] { record(plan.id, retryAt == nil ? .queued : .scheduled, job) }
            var retry = plan
            retry.attempts += 1
            plans.keep(retry, isRetry: true)
            if let retryAt {
                active[plan.id]?.due = DueTime(retryAt)
                due.add(plan.id, due: retryAt.secondsSinceEpoch)
                armTimer()
            } else {
                // No pause: the stored `run_at` is cleared, so it is due as of its submit again (a plan that
                // could not be read keeps the due time it had).
                if let createdAt = plan.createdAt { active[plan.id]?.due = DueTime(createdAt) }
                if let job = active[plan.id] { actions += scheduler.enqueue(job.ready(plan.id)) }
            }
        }
        if !isDraining { perform(actions) }
    }

    /// The outcome's write is over: committed (clients waiting for the job see its final record from now
    /// on), or given up (the store closed, or the task was stopped; a restart requeues the job).
    private func outcomeWritten(_ plan: JobPlan, state: JobState, committed: Bool) {
        outcomesInFlight -= 1
        if isIdle { resumeIdleWaiters() }
        guard committed, state.isFinished else { return }  // a retry stays active; a shutdown requeue is left as is
        record(
            plan.id, state,
            ActiveJob(
                priority: Int32(clamping: plan.priority), ownerUID: plan.ownerUID, due: .epoch, queue: .default,
                class: plan.class))
        if let hooks, hooks.applies(hasOwnHooks: plan.hasHooks, state: state), !isDraining {
            Task { self.accept(await hooks.jobs(for: plan.id, ended: state)) }
        }
        _ = removeActive(plan.id)
        finishedSinceStart += 1
        waiters.finished(plan.id)
        dependencyEnded(plan.id, state: state)
    }

    // MARK: - Control

    /// Cancels a waiting job at once, or tells a running one to stop.
    /// - Throws: a storage error; the job then stays queued.
    func cancel(_ id: JobID) async throws -> CancelResult {
        guard let job = active[id], !cancelling.contains(id) else {
            return active[id] == nil ? .notActive : .stopping
        }
        if let control = controls[id] {
            control.stop(.cancelled)
            return .stopping
        }
        // Waiting: for other jobs, for its time, or for a slot.
        let blockedEntry = blocked.removeValue(forKey: id)
        let dueAt = blockedEntry == nil ? due.take(id) : nil
        let wasDue = dueAt != nil
        let wasReady = blockedEntry == nil && !wasDue && scheduler.remove(id)
        // Still active until the cancel commits: a Wait meanwhile waits for it.
        cancelling.insert(id)
        defer { cancelling.remove(id) }
        let stored: Bool
        do {
            stored = try await store.cancelWaiting(id, at: completion.now())
        } catch {
            putBack(id, job, blocked: blockedEntry, dueAt: dueAt, wasReady: wasReady)
            throw error
        }
        guard stored else {
            // The row is not waiting although the job is here. Either it has ended in the store already (a
            // job it waited for failed, and that end is on its way here): that end is applied now. Or it
            // is a retry whose outcome the disk has not taken (its row still says running): nothing
            // changed, and the job goes on as it was.
            let row = try? await store.job(id)
            if let row, row.state.isFinished {
                ended(id, job, as: row.state, wasScheduled: blockedEntry != nil || wasDue)
                return .notActive
            }
            putBack(id, job, blocked: blockedEntry, dueAt: dueAt, wasReady: wasReady)
            throw JobdError.storageFailed(
                "job \(id) waits for its next attempt, but the disk has not taken its last outcome yet; "
                    + "nothing was cancelled: try again in a moment")
        }
        ended(id, job, as: .cancelled, wasScheduled: blockedEntry != nil || wasDue)
        return .cancelledWaiting
    }

    /// A waiting job ended (cancelled) and that is stored: out of memory, counted, waiters woken, and
    /// the jobs waiting for it go the same way.
    private func ended(_ id: JobID, _ job: ActiveJob, as state: JobState, wasScheduled: Bool) {
        record(id, state, job)
        _ = removeActive(id)
        plans.drop(id)
        forgetWaits(of: id)
        counts[job.class, default: StateCounts()][wasScheduled ? .scheduled : .queued] -= 1
        counts[job.class, default: StateCounts()][state] += 1
        finishedSinceStart += 1
        waiters.finished(id)
        dependencyEnded(id, state: state)
    }

    /// A waiting job whose cancel failed goes back where it waited. While draining nothing is started:
    /// the job stays stored as waiting, and the next start runs it.
    private func putBack(
        _ id: JobID, _ job: ActiveJob, blocked entry: (remaining: Int, runAt: Double?)?, dueAt: Double?, wasReady: Bool
    ) {
        if let entry {
            blocked[id] = entry
        } else if let dueAt {
            due.add(id, due: dueAt)  // at its own time still: a delay or a backoff is not cut short
            armTimer()
        } else if wasReady && !isDraining {
            perform(scheduler.enqueue(job.ready(id)))
        }
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
    /// - Throws: `CancellationError` when the waiting task is cancelled (its client went away): the waiter
    ///   is gone from every list at once.
    func waitUntilFinished(_ ids: [JobID]) async throws -> Bool {
        let unfinished = ids.filter { active[$0] != nil }
        guard !unfinished.isEmpty else { return true }
        if hasDrained { return false }
        let token = WaitToken()
        let finished = await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                if Task.isCancelled {
                    continuation.resume(returning: false)
                } else {
                    token.value.withLock { $0 = waiters.add(unfinished, continuation) }
                }
            }
        } onCancel: {
            Task { await self.stopWaiting(token) }
        }
        try Task.checkCancellation()
        return finished
    }

    private func stopWaiting(_ token: WaitToken) {
        if let token = token.value.withLock({ $0 }) { waiters.cancel(token) }
    }

    /// A waiting client's token, set on the actor and read by its cancellation.
    private final class WaitToken: Sendable {
        let value = Mutex<Int?>(nil)
    }

    /// How many clients wait for jobs to end (a test checks that a client that went away left none).
    var waitingClients: Int { waiters.count }

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
            unreadable: launch.id, class: launch.class, priority: Int(job?.priority ?? 0), ownerUID: job?.ownerUID ?? 0)
    }

    // MARK: - Status

    struct Snapshot: Sendable {
        var counts: [JobClass: StateCounts]
        var limits: Limits
        var finishedSinceStart: Int64
        var queues: [QueueInfo] = []
        var paused: [String] = []
    }

    /// New limits (a reload): more slots start waiting jobs at once; fewer let running jobs finish and
    /// start no more until the count is under the new limit.
    func setLimits(_ limits: Limits) {
        guard !isDraining else { return }
        perform(scheduler.setLimits(limits))
    }

    func snapshot() -> Snapshot {
        let (queues, paused) = queueSnapshot()
        return Snapshot(
            counts: counts, limits: scheduler.limits, finishedSinceStart: finishedSinceStart, queues: queues,
            paused: paused)
    }

    /// The CPU pool's workers, for `status`.
    nonisolated func workers() async -> PoolStatus {
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

    /// Takes no new jobs from now on (a submit gets `ShuttingDown`); ``drain(grace:)`` follows.
    func stopTakingJobs() {
        beginDrain()
    }

    private func beginDrain() {
        isDraining = true
        dueTimer?.cancel()  // scheduled jobs stay scheduled in the database; the next start times them
        dueTimer = nil
    }

    /// Returns when no attempt is running and no outcome is being written, or at the deadline, whichever
    /// comes first.
    private nonisolated func untilNoneRunning(deadline: ContinuousClock.Instant) async {
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await self.noneRunning() }
            group.addTask { try? await Task.sleep(until: deadline) }
            await group.next()
            group.cancelAll()
        }
    }

    /// Suspends until the dispatcher is idle (``isIdle``); a cancelled wait returns at once.
    private func noneRunning() async {
        let token = nextIdleToken
        nextIdleToken += 1
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                if isIdle || Task.isCancelled {
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

    /// No attempt runs and no outcome is on its way to the store.
    private var isIdle: Bool { controls.isEmpty && outcomesInFlight == 0 }

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
    private func runningCount() -> Int { controls.count + outcomesInFlight }
    private func runningControls() -> [RunControl] { Array(controls.values) }
    var isShuttingDown: Bool { isDraining }
}
