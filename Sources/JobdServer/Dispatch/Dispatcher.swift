import DequeModule
import JobdHandlers
import JobdProtocol
import JobdRunners
import JobdScheduler
import JobdStore
import Logging
import Synchronization

/// This jobd's side of a job's life (issue 19): it holds only the jobs it has claimed, its free slots per
/// class, the clients waiting for jobs to end and the counts `status` shows. What happens to a job (the
/// order, the limits and pauses, delays, retries' due times, the cascade to dependents) is decided by the
/// store's transitions; the dispatcher claims when a slot frees or a job may have become ready, runs what
/// it claimed, and applies the ``StateChange``s each transition reports.
///
/// `run()` owns the claim loop and every attempt as child tasks, so shutdown reaches them all.
actor Dispatcher {
    /// One job handed to a runner.
    struct Launch: Sendable {
        var plan: JobPlan
        var control: RunControl
        /// The claim recorded its start already (a handler called in the daemon begins at once).
        var startRecorded: Bool
    }

    /// A job this jobd claimed, from its claim until its outcome has committed.
    struct Held {
        let `class`: JobClass
        let queue: String
        let owner: UInt32
        /// Nil once its attempt has ended (its slot is free; its outcome is on its way to the store).
        var control: RunControl?
    }

    /// What `cancel` did.
    enum CancelResult {
        /// The job was waiting and is now `cancelled`.
        case cancelledWaiting
        /// The job is claimed or running; it has been told to stop and ends `cancelled` when it is gone.
        case stopping
        /// The job has finished, or never existed.
        case notActive
    }

    private var held: [JobID: Held] = [:]
    /// Jobs claimed per class whose attempt has not ended: what the slots count.
    private var busy: [JobClass: Int] = [:]
    /// Claimed jobs a cancel reached before their start: they stop as they are handed over.
    private var cancelOnStart: Set<JobID> = []
    /// Jobs claimed ahead of free slots, per class, best first (``aheadLimit(_:)`` at most): a freed slot
    /// starts the next at once, without a transaction. Still `queued`; given back when a pause or limit
    /// changes, so the claim applies it again.
    private var claimedAhead: [JobClass: Deque<Job>] = [:]
    /// How many jobs of a class are claimed ahead at most (never more than its slots). A job submitted
    /// later with a higher priority starts after these. (A quarter of the slots, 256 of 1,024, was tried for
    /// W1: no change measured, so the smaller number stays.)
    private func aheadLimit(_ jobClass: JobClass) -> Int {
        min(limits[jobClass], 32)
    }

    /// A class may have a ready job no claim has seen (see ``readiness``).
    private func markReady(_ classes: some Sequence<JobClass>) {
        for jobClass in classes {
            mayHaveReady.insert(jobClass)
            readiness[jobClass, default: 0] &+= 1
        }
    }

    private func markReady(_ jobClass: JobClass) { markReady(CollectionOfOne(jobClass)) }
    private var limits: Limits
    /// The limits and pauses set (stored first), for `status` and `jobctl queue`; the claim reads them
    /// from the store.
    private var controls: [SchedulingControl.Target: SchedulingControl] = [:]
    /// The earliest time a scheduled job becomes due, as the last claim (or a submit since) said.
    private var nextDue: Timestamp?
    /// Rung whenever a claim may find something: a slot freed, a job stored or released, a control changed.
    private let claimBell = Doorbell()
    /// Classes that may have ready jobs no claim has taken: a claim that got fewer than it asked for
    /// takes its class out, and a job made ready puts it back. A freed slot of a class not in it claims
    /// nothing, so it costs no transaction (a no-op job otherwise paid one empty claim per end).
    private var mayHaveReady: Set<JobClass> = Set(JobClass.allCases)
    /// Bumped each time a class may have gained a ready job (``markReady(_:)``): a claim's verdict that a
    /// class is empty is kept only if nothing was marked since the claim was asked for, else a job made
    /// ready meanwhile would wait for the hourly claim.
    private var readiness: [JobClass: Int] = [:]
    /// Bumped when a pause or limit changes: jobs a claim in flight then took ahead of the slots are given
    /// back rather than kept, so the claim applies the change to them.
    private var controlsVersion = 0
    /// Claims made ahead that could not be given back (the write failed): given back with the next claim.
    private var toGiveBack: [JobID] = []
    private var counts: [JobClass: StateCounts]
    private var waiters = Waiters()
    /// Attempts that have ended but whose outcome has not committed yet: the drain waits for them too.
    private var outcomesInFlight = 0
    private var idleWaiters: [Int: CheckedContinuation<Void, Never>] = [:]
    private var nextIdleToken = 0
    private var isDraining = false
    /// The drain is over: no job will finish in this process any more.
    private var hasDrained = false
    private(set) var finishedSinceStart: Int64 = 0
    /// The latest job transitions, oldest first, with their owners (`io.jobd.Watch` shows a user their own).
    private var recent: [(transition: JobTransition, owner: UInt32)] = []

    private let store: any JobStore
    private let runners: Runners
    /// The kinds a claim starts as it takes them (``ClaimRequest/startingKinds``): I/O-class handlers that
    /// run in the daemon, which begin the moment they are launched.
    private let startingKinds: Set<String>
    private let completion: Completion
    /// Watches I/O-class commands for CPU burn; nil: none are watched.
    private let burnWatch: CPUBurnWatch?
    private let workerStatuses: @Sendable () async -> PoolStatus
    /// Submits on-finish hooks as jobs; nil: none run.
    private let hooks: Hooks?
    /// Told of every transition (`io.jobd.Watch` streams wake).
    private let transitioned: @Sendable () -> Void
    /// How many transitions ``recent`` keeps.
    static let recentTransitions = 50
    /// The most limits and pauses kept at once.
    static let maximumControls = 1024
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
        self.runners = runners
        self.startingKinds = Set(runners.registry.names.filter { name in
            name != HandlerRegistry.execKind && !runners.registry.blocks(name)
        })
        self.completion = Completion(store: store, profileBook: profileBook, logger: logger, now: now)
        self.burnWatch = burnWatch
        self.workerStatuses = workerStatuses
        self.configuration = configuration
        self.counts = counts
        self.logger = logger
        self.limits = configuration.limits
        (launches, launchContinuation) = AsyncStream.makeStream(of: Launch.self)
        claimBell.ring()  // what the database holds at start is claimed at once
    }

    // MARK: - Jobs arriving

    /// Slots a submit of `jobs` may claim in its own transaction: free ones of the classes it brings, up to
    /// its count of each. Held (counted busy) until ``accept(_:claimed:reserved:)`` or ``giveBack(_:)``, so
    /// the claim loop cannot claim them meanwhile. Nil: none free.
    /// - Throws: `ShuttingDown` while draining: nothing is stored any more.
    func reserveSlots(for jobs: [NewJob]) throws(JobdError) -> Reservation? {
        guard !isDraining else { throw .shuttingDown }
        var slots: [JobClass: Int] = [:]
        for job in jobs { slots[job.class, default: 0] += 1 }
        for (jobClass, wanted) in slots {
            slots[jobClass] = min(wanted, max(0, limits[jobClass] - busy[jobClass, default: 0]))
        }
        slots = slots.filter { $0.value > 0 }
        guard !slots.isEmpty else { return nil }
        for (jobClass, count) in slots { busy[jobClass, default: 0] += count }
        return Reservation(
            request: ClaimRequest(slots: slots, now: completion.now(), startingKinds: startingKinds), readiness: readiness)
    }

    /// Slots a submit holds for its own claim, and what the dispatcher knew of ready jobs then.
    struct Reservation: Sendable {
        let request: ClaimRequest
        fileprivate let readiness: [JobClass: Int]
    }

    /// A submit stored nothing: the slots it held are free again.
    func giveBack(_ reserved: Reservation?) {
        guard let reserved else { return }
        for (jobClass, count) in reserved.request.slots { busy[jobClass, default: 0] -= count }
        if isIdle { resumeIdleWaiters() }
        claimBell.ring()
    }

    /// Newly committed jobs, with what their transaction claimed on the slots ``reserveSlots(for:)`` held.
    func accept(_ jobs: [Job], claimed claim: Claim?, reserved: Reservation?) {
        if let reserved {
            for (jobClass, count) in reserved.request.slots { busy[jobClass, default: 0] -= count }
        }
        let due = nextDue
        // The submit's claim saw these jobs: what it says of their classes stands.
        count(jobs, markingReady: claim == nil)
        guard let claim, let reserved else {
            claimBell.ring()
            return
        }
        _ = took(claim, for: reserved.request, readinessBefore: reserved.readiness, controlsVersion: nil)
        // A delay earlier than the timer's re-arms it.
        if nextDue != due { claimBell.ring() }
    }

    /// Starts what a claim took, and notes which classes it emptied of ready jobs.
    /// - Parameters:
    ///   - readinessBefore: ``readiness`` when the claim was asked for.
    ///   - controlsVersion: ``controlsVersion`` then; nil for a submit's claim, which takes none ahead.
    /// - Returns: jobs claimed ahead that a pause or limit set meanwhile may no longer allow, to give back.
    private func took(
        _ claim: Claim, for request: ClaimRequest, readinessBefore: [JobClass: Int], controlsVersion asked: Int?
    ) -> [JobID] {
        // Before `apply(claim.due)`, which marks what this very claim saw.
        let markedSince = Set(JobClass.allCases.filter { readiness[$0, default: 0] != readinessBefore[$0, default: 0] })
        apply(claim.due)
        nextDue = claim.nextDue
        let controlsChanged = asked.map { $0 != controlsVersion } ?? false
        var unwanted: [JobID] = []
        // The first jobs of each class fill the slots held for them; the rest wait here for a slot.
        var forSlots = request.slots
        for job in claim.jobs {
            if forSlots[job.class, default: 0] > 0 {
                forSlots[job.class, default: 0] -= 1
                start(job, startRecorded: claim.started.contains(job.id))
            } else if controlsChanged {
                unwanted.append(job.id)
            } else {
                claimedAhead[job.class, default: []].append(job)
            }
        }
        for jobClass in JobClass.allCases {
            if claim.exhausted.contains(jobClass) && !markedSince.contains(jobClass) && unwanted.isEmpty {
                mayHaveReady.remove(jobClass)
            } else if request.asked(jobClass) > 0 {
                mayHaveReady.insert(jobClass)
            }
        }
        startClaimedAhead()
        return unwanted
    }

    /// Starts jobs claimed ahead while their class has free slots; rings for more when few are left.
    private func startClaimedAhead() {
        guard !isDraining else { return }
        for jobClass in JobClass.allCases {
            while busy[jobClass, default: 0] < limits[jobClass], let next = claimedAhead[jobClass]?.popFirst() {
                start(next, startRecorded: false)
            }
            if claimedAhead[jobClass, default: []].count <= aheadLimit(jobClass) / 2 && mayHaveReady.contains(jobClass) {
                claimBell.ring()
            }
        }
    }

    /// Gives back every claim made ahead (a pause or limit changed: the claim applies it again).
    private func giveBackClaimedAhead() async {
        toGiveBack += claimedAhead.values.flatMap { $0.map(\.id) }
        claimedAhead = [:]
        await giveBackPending()
    }

    /// Gives back the claims in ``toGiveBack``; kept there to try again with the next claim if the write
    /// fails (until then they hold their queue's room, and nothing here starts them).
    private func giveBackPending() async {
        guard !toGiveBack.isEmpty else { return }
        let ids = toGiveBack
        toGiveBack = []
        do {
            try await store.unclaim(ids)
            markReady(JobClass.allCases)  // their jobs are claimable again, and their queues have room
        } catch {
            toGiveBack = ids + toGiveBack
            logger.error("could not give back \(ids.count) claimed jobs: \(error); trying again with the next claim")
        }
    }

    /// Newly committed jobs (`queued`, or `scheduled` until their `run_at` or the jobs they wait for):
    /// counted, shown to `watch`, and claimed if slots are free.
    func accept(_ jobs: [Job]) {
        count(jobs, markingReady: true)
        claimBell.ring()
    }

    private func count(_ jobs: [Job], markingReady: Bool) {
        for job in jobs {
            counts[job.class, default: StateCounts()][job.state] += 1
            recent.append((JobTransition(id: job.id, state: job.state, class: job.class, at: completion.now()), job.ownerUID))
            if job.state == .scheduled, let runAt = job.runAt, nextDue.map({ runAt < $0 }) ?? true { nextDue = runAt }
            if job.state == .queued && markingReady { markReady(job.class) }
        }
        trimRecent()
    }

    /// A finished job queued again (`io.jobd.Retry`, stored): counted out of its old state, and claimable.
    func retried(_ job: Job, was state: JobState) {
        counts[job.class, default: StateCounts()][state] -= 1
        accept([job])
    }

    /// Applies what a store transition moved: counts, `watch`, and the waiters of jobs that finished.
    private func apply(_ changes: [StateChange]) {
        guard !changes.isEmpty else { return }
        var released = false
        for change in changes {
            counts[change.class, default: StateCounts()][change.from] -= 1
            counts[change.class, default: StateCounts()][change.to] += 1
            recent.append(
                (JobTransition(id: change.id, state: change.to, class: change.class, at: completion.now()), change.owner))
            if change.to.isFinished {
                finishedSinceStart += 1
                waiters.finished(change.id)
            } else if change.to == .queued {
                released = true
                markReady(change.class)
            }
        }
        trimRecent()
        if released { claimBell.ring() }
    }

    private func record(_ id: JobID, _ state: JobState, class jobClass: JobClass, owner: UInt32) {
        recent.append((JobTransition(id: id, state: state, class: jobClass, at: completion.now()), owner))
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

    /// Whether this jobd holds the job (claimed, running, or ended with its outcome on its way to the store).
    func isHeld(_ id: JobID) -> Bool { held[id] != nil }

    // MARK: - Claiming

    /// Claims whenever the bell rings or the next scheduled job becomes due, until the drain.
    private nonisolated func claimLoop() async {
        while true {
            let wait = await untilNextDue()
            await claimBell.wait(upTo: wait)
            guard await claimOnce() else { return }
        }
    }

    /// How long until the earliest scheduled job is due (an hour at most: a clock stepped back is caught up).
    private func untilNextDue() -> Duration {
        guard let nextDue else { return .seconds(3600) }
        let seconds = nextDue.secondsSinceEpoch - completion.now().secondsSinceEpoch
        return seconds <= 0 ? .zero : .seconds(checked: min(seconds, 3600))
    }

    /// One claim for the free slots; the claimed jobs start. - Returns: false once the daemon drains.
    private func claimOnce() async -> Bool {
        guard !isDraining else { return false }
        await giveBackPending()
        startClaimedAhead()
        var slots: [JobClass: Int] = [:]
        var ahead: [JobClass: Int] = [:]
        for jobClass in JobClass.allCases {
            slots[jobClass] = max(0, limits[jobClass] - busy[jobClass, default: 0])
            let room = aheadLimit(jobClass) - claimedAhead[jobClass, default: []].count
            ahead[jobClass] = max(0, room)
        }
        // Held busy while the claim is on its way, as a submit's are: nothing else fills them meanwhile.
        for (jobClass, count) in slots { busy[jobClass, default: 0] += count }
        let request = ClaimRequest(slots: slots, ahead: ahead, now: completion.now(), startingKinds: startingKinds)
        let (readinessBefore, controlsBefore) = (readiness, controlsVersion)
        let claim: Claim
        do {
            claim = try await store.claim(request)
        } catch {
            for (jobClass, count) in slots { busy[jobClass, default: 0] -= count }
            logger.error("could not claim jobs: \(error); trying again in a second")
            nextDue = Timestamp(secondsSinceEpoch: completion.now().secondsSinceEpoch + 1)
            return !isDraining
        }
        for (jobClass, count) in slots { busy[jobClass, default: 0] -= count }
        toGiveBack += took(claim, for: request, readinessBefore: readinessBefore, controlsVersion: controlsBefore)
        await giveBackPending()
        return !isDraining
    }

    /// A claimed job goes to its runner.
    private func start(_ job: Job, startRecorded: Bool) {
        // While draining a claimed job is not run: it stays queued, and the next start gives its claim
        // back. One the claim started already is run stopped, so its attempt is recorded as requeued.
        guard !isDraining || (startRecorded && !hasDrained) else { return }
        let control = RunControl()
        if isDraining { control.stop(.shutdown) }
        held[job.id] = Held(class: job.class, queue: job.queue, owner: job.ownerUID, control: control)
        busy[job.class, default: 0] += 1
        if cancelOnStart.remove(job.id) != nil { control.stop(.cancelled) }
        // An I/O job begins at once; a CPU job may wait in a worker, and is news when it begins.
        if job.class == .io { record(job.id, .running, class: .io, owner: job.ownerUID) }
        counts[job.class, default: StateCounts()].queued -= 1
        counts[job.class, default: StateCounts()].running += 1
        launchContinuation.yield(Launch(plan: plan(of: job), control: control, startRecorded: startRecorded))
    }

    /// What running a stored job takes: its attempt, built here once.
    private nonisolated func plan(of job: Job) -> JobPlan {
        JobPlan(job, logsDirectory: configuration.logsDirectory, outputLimit: configuration.outputLimitBytes)
    }

    // MARK: - Running

    /// Runs the claim loop and every launched job as child tasks until `drain` has finished the stream.
    nonisolated func run() async {
        await withDiscardingTaskGroup { group in
            group.addTask { await self.claimLoop() }
            for await launch in launches {
                group.addTask { await self.execute(launch) }
            }
        }
    }

    private nonisolated func execute(_ launch: Launch) async {
        let plan = launch.plan
        // `running` and `started_at` from the moment the attempt executes, not from its hand-over: a CPU
        // job may wait in a worker behind the one it runs (issue 18).
        let (store, completion, id, jobClass) = (store, completion, plan.id, plan.class)
        if !launch.startRecorded {
            launch.control.onBegin {
                store.recordStarted(id, at: completion.now())
                if jobClass == .cpu { Task { await self.began(id) } }
            }
        }
        let outcome = await run(plan, control: launch.control)
        // Stopped before it began (cancelled while it waited for a worker): its attempt still counts.
        if launch.control.beginUnannounced() && !launch.startRecorded { store.recordStarted(id, at: completion.now()) }
        let stop = launch.control.stopReason
        let (state, retryAt, write) = completion.verdict(on: plan, outcome: outcome, stop: stop)
        // Queue the outcome before the slot is freed: the claim that fills the slot lands after it.
        let commit = write()
        launch.control.outcomeQueued()
        await attemptEnded(plan, state: state, retryAt: retryAt)
        // After the slot is free: the next job need not wait for the profile update.
        await completion.learn(from: outcome, of: plan, stop: stop)
        let moved = await completion.commitKeepingOutcome(of: plan.id, first: commit, retry: write)
        logger.debug("job \(plan.id) \(state.rawValue)", metadata: ["job": "\(plan.id)"])
        // Waiters wake only once the outcome is stored: what they then read is what a restart would find.
        await outcomeWritten(plan, state: state, retryAt: retryAt, moved: moved)
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
        if let job = held[id] { record(id, .running, class: job.class, owner: job.owner) }
    }

    /// The attempt's process is gone and its outcome is queued: its slot is free for the next claim.
    private func attemptEnded(_ plan: JobPlan, state: JobState, retryAt: Timestamp?) {
        let queue = held[plan.id]?.queue
        held[plan.id]?.control = nil
        busy[plan.class, default: 0] -= 1
        outcomesInFlight += 1
        // A job of a limited queue ending may let a job of that queue go that the limit held back.
        // (The room is the queue's, so any class may use it.)
        if let queue, controls[.queue(queue)]?.limit != nil { markReady(JobClass.allCases) }
        if claimedAhead[plan.class, default: []].isEmpty {
            if mayHaveReady.contains(plan.class) { claimBell.ring() }
        } else {
            startClaimedAhead()
        }
    }

    /// The outcome's write is over: committed with the dependents it moved (clients waiting for the job
    /// see its final record from now on), or given up (nil: the store closed, or the daemon stops; a
    /// restart requeues the job).
    private func outcomeWritten(_ plan: JobPlan, state: JobState, retryAt: Timestamp?, moved: [StateChange]?) {
        outcomesInFlight -= 1
        held[plan.id] = nil
        if isIdle { resumeIdleWaiters() }
        guard let moved else { return }
        let stored = retryAt == nil ? state : .scheduled
        counts[plan.class, default: StateCounts()].running -= 1
        counts[plan.class, default: StateCounts()][stored] += 1
        record(plan.id, stored, class: plan.class, owner: plan.ownerUID)
        if state.isFinished {
            finishedSinceStart += 1
            waiters.finished(plan.id)
            if let hooks, hooks.applies(hasOwnHooks: plan.hasHooks, state: state), !isDraining {
                Task { self.accept(await hooks.jobs(for: plan.id, ended: state).map(\.job)) }
            }
        } else {
            // A retry: claimable again now, or at its time.
            if let retryAt, nextDue.map({ retryAt < $0 }) ?? true { nextDue = retryAt }
            if retryAt == nil { markReady(plan.class) }
            claimBell.ring()
        }
        apply(moved)
    }

    // MARK: - Control

    /// Cancels a waiting job at once, or tells a claimed or running one to stop.
    /// - Throws: a storage error; the job then stays as it was.
    func cancel(_ id: JobID) async throws -> CancelResult {
        if let job = held[id] {
            guard let control = job.control else { throw Self.betweenAttempts(id) }
            control.stop(.cancelled)
            return .stopping
        }
        if let jobClass = claimedAhead.first(where: { $0.value.contains { $0.id == id } })?.key {
            // Claimed ahead, not started: given back, then cancelled as the waiting job it is.
            let job = claimedAhead[jobClass]?.first { $0.id == id }
            claimedAhead[jobClass]?.removeAll { $0.id == id }
            do {
                try await store.unclaim([id])
            } catch {
                if let job { claimedAhead[jobClass, default: []].prepend(job) }
                throw error
            }
        }
        if let moved = try await store.cancelWaiting(id, at: completion.now()) {
            apply(moved)
            return .cancelledWaiting
        }
        // Not waiting in the store: claimed meanwhile (by the claim loop, maybe not started yet here),
        // running, or finished.
        if held[id] == nil {
            guard let row = try await store.job(id), !row.state.isFinished else { return .notActive }
        }
        if let job = held[id] {
            guard let control = job.control else { throw Self.betweenAttempts(id) }
            control.stop(.cancelled)
        } else {
            cancelOnStart.insert(id)  // its claim has committed and its start is on its way here
        }
        return .stopping
    }

    /// A job whose attempt has ended and whose outcome is not stored yet (the disk refused it and it is
    /// written again): nothing can be decided about it until then.
    private static func betweenAttempts(_ id: JobID) -> JobdError {
        .storageFailed(
            "job \(id) is between attempts and the disk has not taken its last outcome yet; nothing was cancelled: "
                + "try again in a moment")
    }

    /// Finished jobs were deleted from the store (retention, `io.jobd.Prune`): the kept counts lose them,
    /// per class and state, so `status` shows what the database holds.
    func pruned(_ jobs: [PrunedJob]) {
        for job in jobs { counts[job.class, default: StateCounts()][job.state] -= 1 }
    }

    /// Registers a wait for `ids`, before the caller reads their states: an end committed before that
    /// read is seen by it, one after it reaches the waiter through `apply`. ``awaitEnd(_:finished:)`` or
    /// ``stopWaiting(_:)`` follows. - Returns: its token.
    /// - Returns: its token, and the owners of the jobs this jobd holds (they have not finished: the caller
    ///   need not read them).
    func beginWait(_ ids: [JobID]) -> (token: Int, held: [JobID: UInt32]) {
        var owners: [JobID: UInt32] = [:]
        for id in ids { owners[id] = held[id]?.owner }
        return (waiters.add(ids), owners)
    }

    /// Returns once every job of the wait has finished and its final state has committed; `finished` are
    /// those the caller's read (after ``beginWait(_:)``) found finished or absent.
    /// - Returns: true when they have finished; false when the daemon drained first.
    /// - Throws: `CancellationError` when the waiting task is cancelled (its client went away): the waiter
    ///   is gone from every list at once.
    func awaitEnd(_ token: Int, finished: [JobID]) async throws -> Bool {
        for id in finished { waiters.finished(id, for: token) }
        if hasDrained { waiters.cancel(token) }
        let ended = await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                if Task.isCancelled { waiters.cancel(token) }
                waiters.attach(token, continuation)
            }
        } onCancel: {
            Task { await self.stopWaiting(token) }
        }
        try Task.checkCancellation()
        return ended
    }

    /// Waits for `ids` (``beginWait(_:)``, a read, ``awaitEnd(_:finished:)``).
    func waitUntilFinished(_ ids: [JobID]) async throws -> Bool {
        let token = beginWait(ids).token
        let unfinished: Set<JobID>
        do {
            unfinished = try await store.unfinished(ids)
        } catch {
            stopWaiting(token)
            throw error
        }
        return try await awaitEnd(token, finished: ids.filter { !unfinished.contains($0) })
    }

    /// A wait given up (its caller failed, or went away): its waiter goes from every list.
    func stopWaiting(_ token: Int) { waiters.cancel(token) }

    /// How many clients wait for jobs to end (a test checks that a client that went away left none).
    var waitingClients: Int { waiters.count }

    /// The owners of those of these jobs this jobd holds (for `status`, which shows a user only their own
    /// running jobs).
    func owners(of ids: [JobID]) -> [JobID: UInt32] {
        var found: [JobID: UInt32] = [:]
        for id in ids { found[id] = held[id]?.owner }
        return found
    }

    // MARK: - Limits and pauses

    struct Snapshot: Sendable {
        var counts: [JobClass: StateCounts]
        var limits: Limits
        var finishedSinceStart: Int64
        var queues: [QueueInfo] = []
        var paused: [String] = []
    }

    /// New limits (a reload): more slots claim at once; fewer let running jobs finish and claim no more
    /// until the count is under the new limit.
    func setLimits(_ limits: Limits) {
        self.limits = limits
        controlsVersion &+= 1
        markReady(JobClass.allCases)
        startClaimedAhead()
        claimBell.ring()
    }

    /// Limits and pauses read at start-up, or one an operator set (already stored): what may start now,
    /// starts.
    func apply(_ controls: [SchedulingControl]) async {
        for control in controls {
            self.controls[control.target] = control.limit == nil && !control.paused ? nil : control
        }
        controlsVersion &+= 1
        await giveBackClaimedAhead()
        markReady(JobClass.allCases)
        claimBell.ring()
    }

    /// Whether a limit or pause on `target` can be kept (``maximumControls`` at most).
    func hasRoom(for target: SchedulingControl.Target) -> Bool {
        controls[target] != nil || controls.count < Self.maximumControls
    }

    /// The limit and pause a target has now.
    func control(for target: SchedulingControl.Target) -> SchedulingControl {
        controls[target] ?? SchedulingControl(target: target)
    }

    func snapshot() -> Snapshot {
        var running: [String: Int] = [:]
        for job in held.values where job.control != nil { running[job.queue, default: 0] += 1 }
        var shown = Set(running.keys)
        for case .queue(let name) in controls.keys { shown.insert(name) }
        let queues = shown.sorted().map { name in
            let control = controls[.queue(name)]
            return QueueInfo(name: name, limit: control?.limit, paused: control?.paused ?? false, running: running[name] ?? 0)
        }
        var paused: [String] = controls[.all]?.paused == true ? ["all"] : []
        for jobClass in JobClass.allCases where controls[.jobClass(jobClass)]?.paused == true { paused.append(jobClass.rawValue) }
        return Snapshot(
            counts: counts, limits: limits, finishedSinceStart: finishedSinceStart, queues: queues, paused: paused)
    }

    /// The CPU pool's workers, for `status`.
    nonisolated func workers() async -> PoolStatus {
        await workerStatuses()
    }

    // MARK: - Shutdown

    /// Stops claiming, gives running jobs `grace` to finish, stops and requeues the rest, and ends `run()`
    /// once every attempt is recorded.
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
        claimBell.ring()  // the claim loop ends
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
    private var isIdle: Bool { busy.values.allSatisfy { $0 == 0 } && outcomesInFlight == 0 }

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
    private func runningCount() -> Int { busy.values.reduce(0, +) + outcomesInFlight }
    private func runningControls() -> [RunControl] { held.values.compactMap(\.control) }
    var isShuttingDown: Bool { isDraining }
}
