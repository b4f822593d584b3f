import JobdProtocol
import JobdRunners
import JobdScheduler
import JobdStore
import Logging

/// Fires the recurring jobs (`jobctl schedule`): one timer for the earliest due time; each firing admits
/// the schedule's job as its owner would submit it and stores it in the same transaction that moves the
/// schedule on, so a due time fires once, never twice, also across a crash.
///
/// Due times missed while jobd was down: a schedule with `catch_up` runs its job once at start-up, one
/// without skips them; either way it then goes on from now.
actor Recurrences {
    private struct Key: Hashable {
        var owner: UInt32
        var name: String
    }

    /// Each schedule's timing; its job stays in the store (``StoredSchedule``).
    private var schedules: [Key: StoredSchedule] = [:]
    /// Names each user's adds in progress have reserved (``reserve(owner:name:)``), not stored yet.
    private var reserved: [UInt32: Set<String>] = [:]
    /// Schedules removed by a call that came before ``start(with:schedules:at:)``: the stored copies read
    /// before it must not bring them back.
    private var removedBeforeStart: Set<Key> = []
    private var timer: Task<Void, Never>?
    private var timerDue: Double?
    private var isFiring = false
    private var isStopped = false
    private var responder: Responder?
    private let store: any JobStore
    private let logger: Logger

    init(store: any JobStore, logger: Logger) {
        self.store = store
        self.logger = logger
    }

    /// Loads the stored schedules and starts firing them through `responder` (its admission rules and
    /// its dispatcher).
    func start(with responder: Responder, schedules stored: [StoredSchedule], at now: Timestamp) async {
        self.responder = responder
        // A schedule added (or replaced) by a call that came before this start is newer than what was read.
        for schedule in stored {
            let key = Key(owner: schedule.ownerUID, name: schedule.name)
            if schedules[key] == nil && !removedBeforeStart.contains(key) { schedules[key] = schedule.timing }
        }
        removedBeforeStart = []
        // What was missed while jobd was down: one catch-up run, or none.
        for schedule in Array(schedules.values) where schedule.nextDue < now {
            let next = Self.nextDue(of: schedule, after: now)
            if schedule.catchUp {
                await fire(schedule, next: next, now: now)
            } else {
                logger.notice(
                    "schedule \(schedule.name) of uid \(schedule.ownerUID): due times missed while jobd was down are skipped (no catch-up)")
                _ = try? await store.fire(schedule, dueAt: schedule.nextDue, next: next, job: nil)
                schedules[Key(owner: schedule.ownerUID, name: schedule.name)]?.nextDue = next
            }
        }
        arm()
    }

    /// Stops the timer (shutdown); due times from now on wait for the next start.
    func stop() {
        isStopped = true
        timer?.cancel()
        timer = nil
    }

    // MARK: - Changes

    /// Reserves room for `owner`'s schedule `name` (a new one counts against
    /// ``JobLimits/maximumSchedulesPerUser`` with every other add in progress; replacing one of the same
    /// name takes no room). - Returns: false when the user has no room left.
    func reserve(owner: UInt32, name: String) -> Bool {
        let key = Key(owner: owner, name: name)
        let mine = reserved[owner] ?? []
        if schedules[key] == nil && !mine.contains(name) {
            guard count(of: owner) + mine.count < JobLimits.maximumSchedulesPerUser else { return false }
        }
        reserved[owner, default: []].insert(name)
        return true
    }

    /// An add that reserved room did not store its schedule.
    func unreserve(owner: UInt32, name: String) {
        reserved[owner]?.remove(name)
        if reserved[owner]?.isEmpty == true { reserved[owner] = nil }
    }

    /// A schedule just stored (added or replaced).
    func added(_ schedule: StoredSchedule) {
        unreserve(owner: schedule.ownerUID, name: schedule.name)
        schedules[Key(owner: schedule.ownerUID, name: schedule.name)] = schedule.timing
        removedBeforeStart.remove(Key(owner: schedule.ownerUID, name: schedule.name))
        timerDue = nil  // re-arm whatever the earliest is now
        arm()
    }

    func removed(owner: UInt32, name: String) {
        schedules[Key(owner: owner, name: name)] = nil
        if responder == nil { removedBeforeStart.insert(Key(owner: owner, name: name)) }
        arm()
    }



    func count(of owner: UInt32) -> Int { schedules.values.filter { $0.ownerUID == owner }.count }

    // MARK: - Firing

    private func arm() {
        guard !isStopped else { return }
        let next = schedules.values.map(\.nextDue.secondsSinceEpoch).min()
        guard next != timerDue else { return }
        timer?.cancel()
        timerDue = next
        guard let next else { return }
        let wait = next - WallClock.now().secondsSinceEpoch
        timer = Task {
            if wait > 0 {
                do {
                    try await Task.sleep(for: .seconds(checked: wait))
                } catch {
                    return
                }
            }
            await self.fireDue()
        }
    }

    private func fireDue() async {
        timerDue = nil
        // Not started yet (a schedule added before start-up finished): start() arms the timer again, and
        // re-arming here would fire again at once, in a loop, until then.
        guard !isFiring, !isStopped, responder != nil else { return }
        isFiring = true
        defer { isFiring = false }
        let now = WallClock.now()
        for schedule in schedules.values.filter({ $0.nextDue <= now }).sorted(by: { $0.nextDue < $1.nextDue }) {
            await fire(schedule, next: Self.nextDue(of: schedule, after: now), now: now)
        }
        arm()
    }

    /// Submits the schedule's job for its due time and moves it to `next`. A job that can no longer be
    /// admitted (its command's kind gone, its owner no longer allowed) is logged and the schedule moves on
    /// all the same, rather than failing again at once.
    private func fire(_ schedule: StoredSchedule, next: Timestamp, now: Timestamp) async {
        let key = Key(owner: schedule.ownerUID, name: schedule.name)
        guard let responder else { return }
        let caller = Caller(pid: 0, uid: schedule.ownerUID, gid: schedule.ownerGID)
        do {
            // The job is read now: the daemon keeps only the timing in memory.
            guard let spec = try await store.schedule(owner: schedule.ownerUID, name: schedule.name)?.spec else {
                throw StoreError.inconsistent("schedule \(schedule.name) of uid \(schedule.ownerUID) has no job that this jobd can read")
            }
            let jobs = try await responder.admit([spec], caller: caller, at: now)
            let stored = try await responder.storeAndQueue(jobs) { _ in
                (try await store.fire(schedule, dueAt: schedule.nextDue, next: next, job: jobs.first) ?? SubmitResult(ids: []), nil)
            }
            if let id = stored.ids.first {
                schedules[key]?.lastFired = schedule.nextDue
                schedules[key]?.lastJobID = id
                logger.info("schedule \(schedule.name) of uid \(schedule.ownerUID) submitted job \(id)", metadata: ["job": "\(id)"])
            }
        } catch {
            logger.error("schedule \(schedule.name) of uid \(schedule.ownerUID) could not submit its job: \(error)")
            _ = try? await store.fire(schedule, dueAt: schedule.nextDue, next: next, job: nil)
        }
        // Moved on whatever happened above: a schedule replaced meanwhile keeps its own new time.
        if schedules[key]?.nextDue == schedule.nextDue { schedules[key]?.nextDue = next }
    }

    /// The first due time after `now`: the cron expression's next one, or the next period after the last
    /// due time (from now, when more than one period was missed).
    static func nextDue(of schedule: StoredSchedule, after now: Timestamp) -> Timestamp {
        if let cron = schedule.cron, let expression = try? CronExpression(cron),
            let seconds = Int64(exactly: now.secondsSinceEpoch.rounded(.down)),
            let next = expression.next(after: seconds, in: LocalZone())
        {
            return Timestamp(secondsSinceEpoch: Double(next))
        }
        let period = max(schedule.everySeconds ?? 3600, JobLimits.scheduleEverySeconds.lowerBound)
        let following = schedule.nextDue.secondsSinceEpoch + period
        return Timestamp(secondsSinceEpoch: following > now.secondsSinceEpoch ? following : now.secondsSinceEpoch + period)
    }
}
