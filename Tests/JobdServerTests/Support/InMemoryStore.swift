@testable import JobdStore
import JobdProtocol
import Synchronization

/// A `JobStore` in memory, with the semantics `SQLiteStore` documents and a hand on every commit.
///
/// Writes behave like the group committer's: each is queued at once, behind every write queued before it,
/// and applied (made visible to reads) only when it commits. A test can make commits fail (`failCommits`:
/// nothing of the write is stored, its ticket throws `StoreError.writeFailed`) or hold them
/// (`holdCommits`: a slow disk; every later write waits behind the held one, as in a real group commit)
/// until `releaseHeldCommits()`.
///
/// **Reads see committed writes only**, which is what the dispatcher's "wake waiters after the commit"
/// rule is about. `StoreContractTests` runs the same checks on this store and on `SQLiteStore`. What it
/// does not copy: the schema's CHECKs (it stores any `NewJob`) and the 1 MiB cap on a stored result.
final class InMemoryStore: JobStore {
    /// A write as the store received it: what a test matches faults on and asserts about.
    enum Write: Sendable, Equatable {
        case submit(count: Int)
        case start(JobID, at: Timestamp)
        case finish(JobID, state: JobState, outcome: RunOutcome, at: Timestamp)
        case cancelWaiting(JobID)
        case claim
        case prune
        case saveProfile(signature: String)
        case deleteProfile(signature: String)
        case classReason(JobID, String)

        /// The job a single-job write is about.
        var job: JobID? {
            switch self {
            case .start(let id, _), .finish(let id, _, _, _), .cancelWaiting(let id), .classReason(let id, _): id
            case .submit, .claim, .prune, .saveProfile, .deleteProfile: nil
            }
        }

        var isFinish: Bool {
            if case .finish = self { return true }
            return false
        }
    }

    /// The failure a failed commit reports (what a full disk would say).
    struct DiskFull: Error, CustomStringConvertible {
        var description: String { "database or disk is full (injected)" }
    }

    /// A read that failed (injected).
    struct ReadFailed: Error, CustomStringConvertible {
        var description: String { "disk I/O error (injected read failure)" }
    }

    private struct Rows {
        var jobs: [JobID: Job] = [:]
        var uncleanStops: [JobID: Int64] = [:]
        /// Jobs claimed (as `claimed_by` marks them): from the claim until the job's finish.
        var claimed: Set<JobID> = []
        /// What each job waits for (its unfinished dependencies).
        var waitsFor: [JobID: Set<JobID>] = [:]
        /// Limits and pauses, by stored target.
        var controls: [String: SchedulingControl] = [:]
        /// Unique keys of the jobs that have one.
        var uniqueKeys: [JobID: String] = [:]
        /// Attempts before the latest (the latest is the job's own row), as the attempts table keeps them.
        var earlierAttempts: [JobID: [AttemptRecord]] = [:]
        var profiles: [ProfileKey: Profile] = [:]
        var nextID: Int64 = 1
    }

    private struct ProfileKey: Hashable {
        var owner: UInt32?
        var signature: String
    }

    private struct Pending {
        var write: Write
        var isHeld: Bool
        /// Applies the write to the rows; throws to roll back this write alone (a constraint).
        var apply: @Sendable (inout Rows) throws -> Void
        var completed: @Sendable (Result<Void, any Error>) -> Void
    }

    private struct Fault {
        var remaining: Int
        var matches: @Sendable (Write) -> Bool
    }

    private struct State {
        var rows = Rows()
        var queue: [Pending] = []
        var failures: [Fault] = []
        var holds: [@Sendable (Write) -> Bool] = []
        var readFailuresLeft = 0
        var received: [Write] = []
        var committed: [Write] = []
        var failed: [Write] = []
        var batchReads: [[JobID]] = []
    }

    private let state = Mutex(State())

    init() {}

    // MARK: - What the test controls and sees

    /// The next `count` commits of writes that match fail: nothing of them is stored.
    func failCommits(_ count: Int = 1, where matches: @escaping @Sendable (Write) -> Bool) {
        state.withLock { $0.failures.append(Fault(remaining: count, matches: matches)) }
    }

    /// Every write that matches, from now until `releaseHeldCommits()`, waits to commit, and every write
    /// queued after it waits behind it.
    func holdCommits(where matches: @escaping @Sendable (Write) -> Bool) {
        state.withLock { $0.holds.append(matches) }
    }

    /// Lets held writes (and those queued behind them) commit, and holds no more.
    func releaseHeldCommits() {
        state.withLock { state in
            state.holds.removeAll()
            for index in state.queue.indices { state.queue[index].isHeld = false }
        }
        flush()
    }

    /// The next `count` batch reads (`jobs(_:)`, what the dispatcher's plan loader uses) throw.
    func failReads(_ count: Int) {
        state.withLock { $0.readFailuresLeft = count }
    }

    /// Every write queued so far, in order, committed or not.
    var receivedWrites: [Write] { state.withLock { $0.received } }
    /// The writes that committed, in commit order.
    var committedWrites: [Write] { state.withLock { $0.committed } }
    /// The writes whose commit failed.
    var failedWrites: [Write] { state.withLock { $0.failed } }
    /// Writes queued behind a held one (or held themselves).
    var waitingWrites: [Write] { state.withLock { $0.queue.map(\.write) } }
    /// The ids of each `jobs(_:)` read, in order.
    var batchReads: [[JobID]] { state.withLock { $0.batchReads } }

    /// The committed row, without going through the protocol (no read failure applies).
    func row(_ id: JobID) -> Job? { state.withLock { $0.rows.jobs[id] } }

    /// Puts a row in as a crashed daemon would have left it (for `recover`).
    func insert(_ job: Job) {
        state.withLock { state in
            state.rows.jobs[job.id] = job
            state.rows.nextID = max(state.rows.nextID, job.id.rawValue + 1)
        }
    }

    /// Deletes a row behind the daemon's back (a hand-edited database).
    func removeRow(_ id: JobID) {
        _ = state.withLock { $0.rows.jobs.removeValue(forKey: id) }
    }

    // MARK: - The write queue

    /// Queues a write and commits what can commit.
    private func enqueue(
        _ write: Write, _ apply: @escaping @Sendable (inout Rows) throws -> Void,
        completed: @escaping @Sendable (Result<Void, any Error>) -> Void
    ) {
        state.withLock { state in
            state.received.append(write)
            let isHeld = state.holds.contains { $0(write) }
            state.queue.append(Pending(write: write, isHeld: isHeld, apply: apply, completed: completed))
        }
        flush()
    }

    /// Commits queued writes in order, up to the first held one. Completions run outside the lock.
    private func flush() {
        while true {
            let next = state.withLock { state -> (Pending, Result<Void, any Error>)? in
                guard let head = state.queue.first, !head.isHeld else { return nil }
                state.queue.removeFirst()
                if let index = state.failures.firstIndex(where: { $0.remaining > 0 && $0.matches(head.write) }) {
                    state.failures[index].remaining -= 1
                    state.failed.append(head.write)
                    return (head, .failure(StoreError.writeFailed(cause: DiskFull())))
                }
                var rows = state.rows
                do {
                    try head.apply(&rows)
                } catch {
                    state.failed.append(head.write)
                    return (head, .failure(error))
                }
                state.rows = rows
                state.committed.append(head.write)
                return (head, .success(()))
            }
            guard let (pending, result) = next else { return }
            pending.completed(result)
        }
    }

    private func ticket<Value: Sendable>(
        _ write: Write, _ apply: @escaping @Sendable (inout Rows) throws -> Value
    ) -> CommitTicket<Value> {
        let ticket = CommitTicket<Value>()
        let box = Mutex<Value?>(nil)
        enqueue(
            write,
            { rows in
                let value = try apply(&rows)
                box.withLock { $0 = value }
            },
            completed: { result in
                ticket.complete(result.flatMap { box.withLock { $0 }.map { .success($0) } ?? .failure(DiskFull()) })
            })
        return ticket
    }

    private func later(_ write: Write, _ apply: @escaping @Sendable (inout Rows) throws -> Void) {
        enqueue(write, apply, completed: { _ in })
    }

    /// Queues a write and returns its value once it has committed.
    private func write<T: Sendable>(
        _ write: Write, _ body: @escaping @Sendable (inout Rows) throws -> T
    ) async throws -> T {
        let box = Mutex<T?>(nil)
        return try await withCheckedThrowingContinuation { continuation in
            enqueue(
                write,
                { rows in
                    let value = try body(&rows)
                    box.withLock { $0 = value }
                },
                completed: { result in
                    switch result {
                    case .success: continuation.resume(returning: box.withLock { $0! })
                    case .failure(let error): continuation.resume(throwing: error)
                    }
                })
        }
    }

    private func read<T>(_ body: (Rows) throws -> T) throws -> T {
        try state.withLock { try body($0.rows) }
    }

    // MARK: - JobStore

    func recover(at now: Timestamp) async throws -> StartupState {
        state.withLock { state in
            var requeued: [JobID] = []
            var poisoned: [JobID] = []
            state.rows.claimed.removeAll()
            let running = state.rows.jobs.values.filter { $0.state == .running }.map(\.id).sorted()
            if !running.isEmpty {
                for (id, stops) in state.rows.uncleanStops where stops > 0 && state.rows.jobs[id]?.state != .running {
                    state.rows.uncleanStops[id] = 0
                }
            }
            for id in running {
                let stops = (state.rows.uncleanStops[id] ?? 0) + 1
                state.rows.uncleanStops[id] = stops
                if stops >= SQLiteStore.uncleanStopsBeforeDead {
                    poisoned.append(id)
                    state.rows.jobs[id]!.state = .dead
                    state.rows.jobs[id]!.finishedAt = now
                    state.rows.jobs[id]!.error = "the daemon stopped uncleanly \(stops) times while it ran"
                    _ = Self.dependencyEnded(id, .dead, at: now, in: &state.rows)
                } else {
                    requeued.append(id)
                    state.rows.jobs[id]!.state = .queued
                    state.rows.jobs[id]!.error =
                        "jobd stopped while attempt \(state.rows.jobs[id]!.attempts) ran; requeued"
                }
            }
            var counts: [JobClass: StateCounts] = [.cpu: StateCounts(), .io: StateCounts()]
            for job in state.rows.jobs.values { counts[job.class, default: StateCounts()][job.state] += 1 }
            return StartupState(requeued: requeued, poisoned: poisoned, counts: counts)
        }
    }

    func submit(_ jobs: [NewJob], claiming request: ClaimRequest?) async throws -> (stored: SubmitResult, claim: Claim?) {
        // The real store suspends here (its group committer): so does this one, so concurrent submits
        // interleave between their admission and their commit as they do against SQLite.
        await Task.yield()
        return try await write(.submit(count: jobs.count)) { rows in
            let stored = try Self.insert(jobs, in: &rows)
            return (stored, request.map { Self.claim($0, in: &rows) })
        }
    }

    private static func insert(_ jobs: [NewJob], in rows: inout Rows) throws -> SubmitResult {
        // All or none: `rows` is a copy that only replaces the store's when the write commits.
        // The per-user bounds, as SQLiteStore checks them.
        if let owner = jobs.first?.ownerUID {
            let held = Set(
                rows.jobs.values.filter { $0.ownerUID == owner && !$0.state.isFinished && $0.queue != "default" }.map(\.queue))
            var using = held
            for (index, job) in jobs.enumerated() where job.queuesBounded && (job.spec.queue ?? "default") != "default" {
                using.insert(job.spec.queue ?? "default")
                if using.count > JobLimits.maximumQueuesPerUser { throw SubmitRefusal.tooManyQueues(index: index, held: held.count) }
            }
            let adding = jobs.reduce(0) { $0 + ($1.spec.after?.count ?? 0) + ($1.spec.afterIndex?.count ?? 0) }
            let waiting = rows.waitsFor.filter { rows.jobs[$0.key]?.ownerUID == owner }.reduce(0) { $0 + $1.value.count }
            if adding > 0 && waiting + adding > JobLimits.maximumWaitingDependenciesPerUser {
                let index = jobs.firstIndex { !($0.spec.after ?? []).isEmpty || !($0.spec.afterIndex ?? []).isEmpty } ?? 0
                throw SubmitRefusal.tooManyDependencies(index: index, held: waiting, adding: adding)
            }
        }
        var result = SubmitResult(ids: [])
        for (index, job) in jobs.enumerated() {
            var waits: [JobID] = []
            let named = (job.spec.after ?? []) + (job.spec.afterIndex ?? []).compactMap { $0 < result.ids.count ? result.ids[$0] : nil }
            for dependency in named where !waits.contains(dependency) {
                guard let found = rows.jobs[dependency], job.ownerUID == 0 || found.ownerUID == job.ownerUID else {
                    throw SubmitRefusal.unknownDependency(index: index, dependency)
                }
                switch found.state {
                case .succeeded: continue
                case .failed, .dead, .cancelled: throw SubmitRefusal.dependencyEnded(index: index, dependency, found.state)
                case .scheduled, .queued, .running: waits.append(dependency)
                }
            }
            let holder = job.spec.uniqueKey.flatMap { key in
                rows.uniqueKeys.first { id, held in
                    held == key && rows.jobs[id]?.ownerUID == job.ownerUID && rows.jobs[id]?.state.isFinished == false
                }?.key
            }
            if let holder {
                result.ids.append(holder)
                result.existing.insert(index)
                continue
            }
            let id = JobID(rawValue: rows.nextID)
            rows.nextID += 1
            rows.jobs[id] = job.record(id: id, waiting: !waits.isEmpty)
            rows.uniqueKeys[id] = job.spec.uniqueKey
            result.ids.append(id)
            if !waits.isEmpty {
                rows.waitsFor[id] = Set(waits)
                result.waitsFor[index] = waits
            }
        }
        return result
    }

    func claim(_ request: ClaimRequest) async throws -> Claim {
        await Task.yield()
        return try await write(.claim) { rows in Self.claim(request, in: &rows) }
    }

    func unclaim(_ ids: [JobID]) async throws {
        try await write(.claim) { rows in
            for id in ids where rows.jobs[id]?.state == .queued { rows.claimed.remove(id) }
        }
    }

    private static func claim(_ request: ClaimRequest, in rows: inout Rows) -> Claim {
        var claim = Claim()
        let now = request.now
        // Due first: a scheduled job whose time has come and that waits for no other.
        for job in rows.jobs.values.sorted(by: { ($0.runAt ?? now, $0.id) < ($1.runAt ?? now, $1.id) })
        where job.state == .scheduled && rows.waitsFor[job.id] == nil && (job.runAt.map { $0 <= now } ?? false) {
            rows.jobs[job.id]?.state = .queued
            claim.due.append(StateChange(id: job.id, owner: job.ownerUID, class: job.class, from: .scheduled, to: .queued))
        }
        var paused = Set<String>()
        var limits: [String: Int] = [:]
        var pausedClasses = Set<JobClass>()
        var pausedAll = false
        for control in rows.controls.values {
            switch control.target {
            case .all: pausedAll = pausedAll || control.paused
            case .jobClass(let jobClass): if control.paused { pausedClasses.insert(jobClass) }
            case .queue(let name):
                if control.paused { paused.insert(name) }
                if let limit = control.limit { limits[name] = limit }
            }
        }
        if pausedAll {
            claim.exhausted = Set(JobClass.allCases)
        } else {
            claim.exhausted = pausedClasses
            var room: [String: Int] = [:]
            for (queue, limit) in limits {
                room[queue] = limit - rows.claimed.filter { rows.jobs[$0]?.queue == queue }.count
            }
            let ready = rows.jobs.values.filter { $0.state == .queued && !rows.claimed.contains($0.id) }.sorted {
                ($0.priority, ($1.runAt ?? $1.createdAt), $1.id) > ($1.priority, ($0.runAt ?? $0.createdAt), $0.id)
            }
            // As SQLite's query: queues full when the claim begins are not read at all.
            let closed = paused.union(room.filter { $0.value <= 0 }.keys)
            var left = ClaimRequest.maximumJobs
            for jobClass in JobClass.allCases where !pausedClasses.contains(jobClass) {
                var forSlots = max(0, request.slots[jobClass] ?? 0)
                var wanted = min(request.asked(jobClass), left)
                let asked = wanted
                guard asked > 0 else { continue }
                for job in ready where wanted > 0 && job.class == jobClass && !paused.contains(job.queue) {
                    if let left = room[job.queue] {
                        guard left > 0 else { continue }
                        room[job.queue] = left - 1
                    }
                    rows.claimed.insert(job.id)
                    claim.jobs.append(job)
                    let fillsASlot = forSlots > 0
                    forSlots -= 1
                    if fillsASlot && job.class == .io && request.startingKinds.contains(job.kind) {
                        rows.jobs[job.id]?.state = .running
                        rows.jobs[job.id]?.startedAt = now
                        rows.jobs[job.id]?.attempts += 1
                        rows.jobs[job.id]?.error = nil
                        claim.started.insert(job.id)
                    }
                    wanted -= 1
                }
                left -= asked - wanted
                // Filled: whether the next row exists (as SQLite looks one row further), whatever its queue.
                let anyLeft = ready.contains {
                    $0.class == jobClass && !rows.claimed.contains($0.id) && !closed.contains($0.queue)
                }
                if wanted > 0 || !anyLeft { claim.exhausted.insert(jobClass) }
            }
        }
        claim.nextDue = rows.jobs.values.filter { $0.state == .scheduled && rows.waitsFor[$0.id] == nil }
            .compactMap(\.runAt).min()
        return claim
    }

    func attempts(of id: JobID) async throws -> [AttemptRecord] {
        try read { rows in
            var records = rows.earlierAttempts[id] ?? []
            if let job = rows.jobs[id], job.attempts > (records.last?.number ?? 0) {
                records.append(
                    AttemptRecord(
                        number: job.attempts, startedAt: job.startedAt, finishedAt: job.finishedAt,
                        outcome: job.state == .running ? nil : job.outcome))
            }
            return records
        }
    }

    /// The store's rules for what waits on a job that ended: released on success, else cancelled,
    /// transitively. - Returns: the jobs it moved.
    private static func dependencyEnded(
        _ id: JobID, _ state: JobState, at now: Timestamp, in rows: inout Rows
    ) -> [StateChange] {
        var moved: [StateChange] = []
        var pending = [id]
        while let ended = pending.popLast() {
            for (job, on) in rows.waitsFor.sorted(by: { $0.key < $1.key }) where on.contains(ended) {
                guard let row = rows.jobs[job] else { continue }
                if state == .succeeded && ended == id {
                    rows.waitsFor[job]?.remove(ended)
                    if rows.waitsFor[job]?.isEmpty == true {
                        rows.waitsFor[job] = nil
                        if let runAt = row.runAt, runAt > now { continue }
                        if row.state == .scheduled {
                            rows.jobs[job]?.state = .queued
                            moved.append(StateChange(id: job, owner: row.ownerUID, class: row.class, from: .scheduled, to: .queued))
                        }
                    }
                } else if state != .succeeded {
                    rows.waitsFor[job] = nil
                    guard !row.state.isFinished, row.state != .running, !rows.claimed.contains(job) else { continue }
                    rows.jobs[job]?.state = .cancelled
                    rows.jobs[job]?.finishedAt = now
                    rows.jobs[job]?.error = SQLiteStore.dependencyFailure(ended, ended == id ? state : .cancelled)
                    moved.append(StateChange(id: job, owner: row.ownerUID, class: row.class, from: row.state, to: .cancelled))
                    pending.append(job)
                }
            }
        }
        return moved
    }

    func recordStarted(_ id: JobID, at now: Timestamp) {
        later(.start(id, at: now)) { rows in
            // An UPDATE of no row: no such job, or one that has ended (a start never undoes an end).
            guard var job = rows.jobs[id], !job.state.isFinished else { return }
            job.state = .running
            job.startedAt = now
            job.attempts += 1
            job.error = nil
            rows.jobs[id] = job
        }
    }

    func finish(
        _ id: JobID, state jobState: JobState, outcome: RunOutcome, at now: Timestamp, retryAt: Timestamp?
    ) -> CommitTicket<[StateChange]> {
        precondition(jobState.isFinished || jobState == .queued, "finish into \(jobState)")
        return ticket(.finish(id, state: jobState, outcome: outcome, at: now)) { rows -> [StateChange] in
            guard var job = rows.jobs[id] else { return [] }
            rows.claimed.remove(id)
            if !jobState.isFinished {
                rows.earlierAttempts[id, default: []].append(
                    AttemptRecord(number: job.attempts, startedAt: job.startedAt, finishedAt: now, outcome: outcome))
            }
            // A retry is no end: its dependents wait on (as in SQLiteStore.finish).
            let moved = jobState.isFinished ? Self.dependencyEnded(id, jobState, at: now, in: &rows) : []
            job.state = jobState == .queued && retryAt != nil ? .scheduled : jobState
            job.runAt = retryAt
            // A job going back to `queued` (a retry) keeps the last attempt's outcome but has no finish time.
            job.finishedAt = jobState.isFinished ? now : nil
            job.exitCode = outcome.exitCode
            job.signal = outcome.signal
            job.error = outcome.error
            job.result = outcome.result
            job.wallSeconds = outcome.wallSeconds
            job.cpuUserSeconds = outcome.cpuUserSeconds
            job.cpuSystemSeconds = outcome.cpuSystemSeconds
            job.cpuSeconds = outcome.cpuUserSeconds + outcome.cpuSystemSeconds
            job.maxRSSBytes = outcome.maxRSSBytes
            job.workerPID = outcome.workerPID
            job.waitSeconds = outcome.waitSeconds.flatMap { $0.isFinite && $0 >= 0 ? $0 : nil }
            rows.jobs[id] = job
            rows.uncleanStops[id] = 0
            return moved
        }
    }

    func cancelWaiting(_ id: JobID, at now: Timestamp) async throws -> [StateChange]? {
        try await write(.cancelWaiting(id)) { rows -> [StateChange]? in
            guard var job = rows.jobs[id], job.state == .scheduled || job.state == .queued, !rows.claimed.contains(id)
            else { return nil }
            let itself = StateChange(id: id, owner: job.ownerUID, class: job.class, from: job.state, to: .cancelled)
            job.state = .cancelled
            job.finishedAt = now
            job.error = "cancelled before it started"
            rows.jobs[id] = job
            rows.waitsFor[id] = nil
            return [itself] + Self.dependencyEnded(id, .cancelled, at: now, in: &rows)
        }
    }

    func jobs(_ ids: [JobID]) async throws -> [JobID: Job] {
        try state.withLock { state in
            state.batchReads.append(ids)
            if state.readFailuresLeft > 0 {
                state.readFailuresLeft -= 1
                throw ReadFailed()
            }
            var found: [JobID: Job] = [:]
            for id in ids { found[id] = state.rows.jobs[id] }
            return found
        }
    }

    func unfinished(_ ids: [JobID]) async throws -> Set<JobID> {
        try read { rows in Set(ids.filter { rows.jobs[$0].map { !$0.state.isFinished } ?? false }) }
    }

    func owners(_ ids: [JobID]) async throws -> [JobID: UInt32] {
        try read { rows in
            var found: [JobID: UInt32] = [:]
            for id in ids { found[id] = rows.jobs[id]?.ownerUID }
            return found
        }
    }

    func job(_ id: JobID) async throws -> Job? {
        try read { $0.jobs[id] }
    }

    func jobs(matching filter: JobFilter) async throws -> (jobs: [Job], more: Bool) {
        try read { rows in
            let matching = rows.jobs.values.filter { job in
                (filter.states.map { $0.isEmpty || $0.contains(job.state) } ?? true)
                    && (filter.queue.map { $0 == job.queue } ?? true)
                    && (filter.beforeID.map { job.id < $0 } ?? true)
                    && (filter.ownerUID.map { $0 == job.ownerUID } ?? true)
            }.sorted { $0.id > $1.id }
            return (Array(matching.prefix(filter.limit)), matching.count > filter.limit)
        }
    }

    func prune(finishedBy cutoff: Timestamp, states: Set<JobState>, ownerUID: UInt32?, limit: Int) async throws
        -> [PrunedJob]
    {
        // Only finished states, whatever the caller passed: a queued or running job is never pruned.
        let states = states.filter(\.isFinished)
        guard !states.isEmpty, limit > 0 else { return [] }
        return try await write(.prune) { rows in
            let doomed = rows.jobs.values.filter { job in
                guard let finishedAt = job.finishedAt else { return false }
                return finishedAt <= cutoff && states.contains(job.state)
                    && (ownerUID.map { $0 == job.ownerUID } ?? true)
            }.sorted { ($0.finishedAt!, $0.id) < ($1.finishedAt!, $1.id) }.prefix(limit)
            for job in doomed where job.finishedAt != nil { rows.jobs[job.id] = nil }
            return doomed.map { PrunedJob(id: $0.id, class: $0.class, state: $0.state) }
        }
    }

    func waitsFor(_ id: JobID) async throws -> [JobID] {
        try read { rows in (rows.waitsFor[id] ?? []).sorted() }
    }

    func retry(_ id: JobID, at now: Timestamp) async throws -> RetryResult {
        try await write(.prune) { rows -> RetryResult in
            // As SQLiteStore.retry: an unfinished job of the owner holding the same unique key wins.
            if let key = rows.uniqueKeys[id], let holder = rows.uniqueKeys.first(where: { other, held in
                other != id && held == key && rows.jobs[other]?.ownerUID == rows.jobs[id]?.ownerUID
                    && rows.jobs[other]?.state.isFinished == false
            })?.key {
                return .keyHeld(by: holder)
            }
            guard var job = rows.jobs[id], [.failed, .dead, .cancelled].contains(job.state) else { return .notRetryable }
            if job.attempts >= 1 {
                rows.earlierAttempts[id, default: []].append(
                    AttemptRecord(
                        number: job.attempts, startedAt: job.startedAt, finishedAt: job.finishedAt,
                        outcome: job.state == .running ? nil : job.outcome))
            }
            job.state = .queued
            job.maxAttempts = max(job.maxAttempts, min(job.attempts + 1, JobLimits.maxAttemptsRange.upperBound))
            job.finishedAt = nil
            job.exitCode = nil
            job.signal = nil
            job.error = nil
            job.result = nil
            job.runAt = now
            rows.jobs[id] = job
            rows.waitsFor[id] = nil
            rows.uncleanStops[id] = 0
            return .queued(job)
        }
    }

    // Schedules are not part of what these tests drive: the store keeps none.
    func scheduleTimings() async throws -> [StoredSchedule] { [] }
    func schedule(owner: UInt32, name: String) async throws -> StoredSchedule? { nil }
    func schedules(of owner: UInt32?, after: (owner: UInt32, name: String)?, limit: Int) async throws
        -> (schedules: [StoredSchedule], more: Bool)
    { ([], false) }
    func saveSchedule(_ schedule: StoredSchedule, at now: Timestamp) async throws {}
    func removeSchedule(owner: UInt32, name: String) async throws -> Bool { false }
    func fire(_ schedule: StoredSchedule, dueAt due: Timestamp, next: Timestamp, job: NewJob?) async throws -> SubmitResult? {
        nil
    }

    func schedulingControls() async throws -> [SchedulingControl] {
        try read { rows in rows.controls.keys.sorted().compactMap { rows.controls[$0] } }
    }

    func saveSchedulingControl(_ control: SchedulingControl) async throws {
        // The real store suspends here (its writer runs on a thread of its own): so does this one, so the
        // callers' interleavings are the real ones.
        await Task.yield()
        try await write(.prune) { rows in
            rows.controls[control.target.stored] = control.limit == nil && !control.paused ? nil : control
        }
    }

    func profiles() async throws -> [Profile] {
        try read { rows in
            rows.profiles.values.sorted { ($0.ownerUID ?? .max, $0.signature) < ($1.ownerUID ?? .max, $1.signature) }
        }
    }

    func saveProfile(_ profile: Profile, at now: Timestamp) -> CommitTicket<Void> {
        ticket(.saveProfile(signature: profile.signature)) { rows in
            rows.profiles[ProfileKey(owner: profile.ownerUID, signature: profile.signature)] = profile
        }
    }

    func deleteProfile(owner: UInt32?, signature: String) -> CommitTicket<Void> {
        ticket(.deleteProfile(signature: signature)) { rows in
            rows.profiles[ProfileKey(owner: owner, signature: signature)] = nil
        }
    }

    func updateClassReason(_ id: JobID, reason: String) {
        later(.classReason(id, reason)) { rows in
            rows.jobs[id]?.classReason = reason
        }
    }
}
