import GRDB
import JobdProtocol
import Logging

import Foundation

/// The embedded backend: one SQLite file in WAL mode, one group-committing writer, pooled readers.
public final class SQLiteStore: JobStore {
    /// How hard a commit waits for the disk (`PRAGMA synchronous`).
    public enum Durability: String, Sendable, CaseIterable {
        /// WAL + NORMAL: a commit survives a crash of jobd; a power cut may lose the last few.
        case normal
        /// WAL + FULL: every commit is fsynced before it is acknowledged.
        case full
    }

    /// The largest handler result stored, in bytes of JSON; a larger one is replaced by an error note.
    public static let maximumResultBytes = 1 << 20

    private let writer: any DatabaseWriter
    let committer: GroupCommitter
    /// Checkpoints the log off the commit path; nil for a database without a file (tests).
    private let checkpointer: WALCheckpointer?
    public let path: String

    /// Opens (creating if needed) the database at `path` and migrates it.
    /// - Throws: `StoreError.schemaNewerThanBinary` or `.cannotOpen`.
    public convenience init(path: String, durability: Durability, logger: Logger) throws {
        var configuration = Configuration()
        configuration.prepareDatabase { db in
            try db.execute(sql: "PRAGMA synchronous = \(durability == .full ? "FULL" : "NORMAL")")
            // The log is checkpointed in the background (WALCheckpointer); commits do it only far past that.
            try db.execute(sql: "PRAGMA wal_autocheckpoint = \(WALCheckpointer.fallbackPages)")
            try db.execute(sql: "PRAGMA journal_size_limit = \(WALCheckpointer.journalSizeLimit)")
        }
        configuration.busyMode = .timeout(5)
        let pool: DatabasePool
        do {
            let directory = URL(fileURLWithPath: path).deletingLastPathComponent()
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            pool = try DatabasePool(path: path, configuration: configuration)
        } catch {
            throw StoreError.cannotOpen(path: path, cause: error)
        }
        let checkpointer = WALCheckpointer(path: path, logger: logger)
        if checkpointer == nil {
            // No background checkpoints: commits checkpoint again at SQLite's own threshold.
            try? pool.writeWithoutTransaction { try $0.execute(sql: "PRAGMA wal_autocheckpoint = 1000") }
        }
        try self.init(writer: pool, path: path, logger: logger, checkpointer: checkpointer)
    }

    /// Uses an existing database (tests pass an in-memory `DatabaseQueue`).
    public convenience init(writer: any DatabaseWriter, path: String = ":memory:", logger: Logger) throws {
        try self.init(writer: writer, path: path, logger: logger, checkpointer: nil)
    }

    private init(writer: any DatabaseWriter, path: String, logger: Logger, checkpointer: WALCheckpointer?) throws {
        self.writer = writer
        self.path = path
        self.checkpointer = checkpointer
        self.committer = GroupCommitter(writer: writer, logger: logger, afterCommit: { checkpointer?.committed() })
        do {
            try Migrations.apply(to: writer, path: path)
        } catch let error as StoreError {
            throw error
        } catch {
            throw StoreError.cannotOpen(path: path, cause: error)
        }
    }

    /// Commits writes (and checkpoints the log) until `close()`. Run it for as long as the store is used.
    public func run() async {
        let checkpoints = Task { [checkpointer] in await checkpointer?.run() }
        await committer.run()
        checkpoints.cancel()
        await checkpoints.value
    }

    /// Takes no more writes; `run()` returns once those queued have committed.
    public func close() { committer.close() }

    /// Returns once an empty write has gone through the group committer: proof that the writer still
    /// commits, for the systemd watchdog. It stalls exactly when submits would.
    /// - Throws: the database's error when the commit failed.
    public func checkWriter() async throws {
        try await committer.write { db in try db.execute(sql: "SELECT 1") }
    }

    // MARK: - JobStore

    public func recover(at now: Timestamp) async throws -> StartupState {
        // Straight to the writer, not through the group committer: recovery runs once, before any other
        // write, and before `run()` has started committing groups.
        try await writer.write { db in
            // One jobd per database file (its lock): whatever a dead one had claimed and not started is
            // anyone's again. No attempt of it ran, so nothing else changes.
            try db.execute(sql: "UPDATE jobs SET claimed_by = NULL WHERE claimed_by IS NOT NULL AND state <> 'running'")
            // Jobs left `running` mean the last stop was unclean (a drain requeues every job it stops).
            let running = try Row.fetchAll(
                db, sql: "SELECT id, unclean_stops FROM jobs WHERE state = 'running' ORDER BY id")
            // A run of unclean stops that missed a job ends its count: only stops in a row count.
            if !running.isEmpty {
                try db.execute(sql: "UPDATE jobs SET unclean_stops = 0 WHERE unclean_stops > 0 AND state <> 'running'")
            }
            var requeued: [JobID] = []
            var poisoned: [JobID] = []
            for row in running {
                let id = JobID(rawValue: row[0])
                let stops = (row[1] as Int64) + 1
                if stops >= Self.uncleanStopsBeforeDead {
                    poisoned.append(id)
                    try db.execute(
                        sql: """
                            UPDATE jobs SET state = 'dead', finished_at = ?, unclean_stops = ?, claimed_by = NULL,
                                error = 'the daemon stopped uncleanly ' || ? || ' times while it ran'
                            WHERE id = ?
                            """,
                        arguments: [now.secondsSinceEpoch, stops, stops, id.rawValue])
                    _ = try Self.cancelDependents(of: id, because: .dead, at: now, in: db)
                } else {
                    requeued.append(id)
                    try Self.keepAttempt(of: id, endedAt: now, error: "jobd stopped uncleanly while it ran", in: db)
                    try db.execute(
                        sql: """
                            UPDATE jobs SET state = 'queued', unclean_stops = ?, claimed_by = NULL,
                                error = 'jobd stopped while attempt ' || attempts || ' ran; requeued'
                            WHERE id = ?
                            """,
                        arguments: [stops, id.rawValue])
                }
            }
            var counts: [JobClass: StateCounts] = [.cpu: StateCounts(), .io: StateCounts()]
            // Counted once here; afterwards the daemon keeps them from what each transition reports.
            for row in try Row.fetchAll(db, sql: "SELECT class, state, COUNT(*) FROM jobs GROUP BY class, state") {
                guard let jobClass = JobClass(rawValue: row[0]), let state = JobState(rawValue: row[1]) else { continue }
                counts[jobClass, default: StateCounts()][state] = row[2]
            }
            return StartupState(requeued: requeued, poisoned: poisoned, counts: counts)
        }
    }

    /// Unclean stops in a row that may find a job running before recovery ends it `dead` (Sidekiq's
    /// "poison pill" rule): the third crash with the same job running is taken as the job's doing.
    public static let uncleanStopsBeforeDead: Int64 = 3

    public func submit(_ jobs: [NewJob], claiming request: ClaimRequest?) async throws -> (stored: SubmitResult, claim: Claim?) {
        let rows = try jobs.map(InsertRow.init)
        return try await committer.write { db in
            let stored = try Self.insert(rows, in: db)
            return (stored, try request.map { try Self.claim($0, in: db) })
        }
    }

    /// Stores jobs in the current transaction (see ``submit(_:)``).
    private static func insert(_ rows: [InsertRow], in db: Database) throws -> SubmitResult {
        // A unique key already held by an unfinished job of the same owner inserts nothing: the partial
        // unique index decides, so two concurrent submits cannot both store one (no read-then-write race).
        let insert = try db.cachedStatement(
            sql: """
                INSERT INTO jobs (name, kind, payload, argv, env, cwd, queue, class, class_source, class_reason,
                    priority, max_attempts, timeout_seconds, owner_uid, owner_gid, created_at, signature, state, run_at,
                    backoff, backoff_seconds, unique_key, on_success, on_failure, hook_of)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                ON CONFLICT (owner_uid, unique_key)
                    WHERE unique_key IS NOT NULL AND state IN ('scheduled', 'queued', 'running') DO NOTHING
                """)
        try Self.checkBounds(of: rows, in: db)
        var result = SubmitResult(ids: [])
        result.ids.reserveCapacity(rows.count)
        for (index, row) in rows.enumerated() {
            let waits = try Self.unfinishedDependencies(of: row, at: index, resolving: result.ids, in: db)
            try insert.execute(arguments: row.arguments(waiting: !waits.isEmpty))
            guard db.changesCount == 1 else {
                result.ids.append(try Self.unfinishedJob(withKey: row.uniqueKey, of: row.owner, in: db))
                result.existing.insert(index)
                continue
            }
            let id = JobID(db.lastInsertedRowID)
            result.ids.append(id)
            if !waits.isEmpty {
                let edge = try db.cachedStatement(
                    sql: "INSERT OR IGNORE INTO job_dependencies (job_id, depends_on_id) VALUES (?, ?)")
                for dependency in waits { try edge.execute(arguments: [id.rawValue, dependency.rawValue]) }
                result.waitsFor[index] = waits
            }
        }
        return result
    }

    /// Refuses a call that would take its owner past a per-user bound: the queues their unfinished jobs use
    /// (``JobLimits/maximumQueuesPerUser``, besides `default`), and the dependencies they wait on
    /// (``JobLimits/maximumWaitingDependenciesPerUser``). Checked in the submit's own transaction, so two
    /// submits at once cannot each pass on the same room.
    private static func checkBounds(of rows: [InsertRow], in db: Database) throws {
        guard let owner = rows.first?.owner else { return }
        let named = rows.filter { $0.queuesBounded && $0.queue != "default" }
        if !named.isEmpty {
            let held = Set(
                try String.fetchAll(
                    db.cachedStatement(
                        sql: """
                            SELECT DISTINCT queue FROM jobs WHERE owner_uid = ? AND queue <> 'default'
                                AND state IN ('scheduled', 'queued', 'running')
                            """),
                    arguments: [owner]))
            var using = held
            for (index, row) in rows.enumerated() where row.queuesBounded && row.queue != "default" {
                using.insert(row.queue)
                if using.count > JobLimits.maximumQueuesPerUser {
                    throw SubmitRefusal.tooManyQueues(index: index, held: held.count)
                }
            }
        }
        let adding = rows.reduce(0) { $0 + $1.after.count + $1.afterIndex.count }
        if adding > 0 {
            let held = try Int.fetchOne(
                db.cachedStatement(
                    sql: "SELECT COUNT(*) FROM job_dependencies d JOIN jobs j ON j.id = d.job_id WHERE j.owner_uid = ?"),
                arguments: [owner]) ?? 0
            if held + adding > JobLimits.maximumWaitingDependenciesPerUser {
                let index = rows.firstIndex { !$0.after.isEmpty || !$0.afterIndex.isEmpty } ?? 0
                throw SubmitRefusal.tooManyDependencies(index: index, held: held, adding: adding)
            }
        }
    }

    /// The jobs that job `index` of a submit waits for and that have not finished. Refuses one that does
    /// not exist, is another user's (unless the submitter is root), or ended without success.
    private static func unfinishedDependencies(
        of row: InsertRow, at index: Int, resolving earlier: [JobID], in db: Database
    ) throws -> [JobID] {
        var waits: [JobID] = []
        var seen = Set<JobID>()
        // An index names an earlier job of the same call; the daemon checked it is in range.
        let named = row.after + row.afterIndex.compactMap { $0 >= 0 && $0 < earlier.count ? earlier[$0] : nil }
        let lookup = try db.cachedStatement(sql: "SELECT state, owner_uid FROM jobs WHERE id = ?")
        for id in named where seen.insert(id).inserted {
            guard let found = try Row.fetchOne(lookup, arguments: [id.rawValue]),
                row.owner == 0 || (found[1] as Int64) == Int64(row.owner)
            else { throw SubmitRefusal.unknownDependency(index: index, id) }
            let state = JobState(rawValue: found[0]) ?? .failed
            switch state {
            case .succeeded: continue
            case .failed, .dead, .cancelled: throw SubmitRefusal.dependencyEnded(index: index, id, state)
            case .scheduled, .queued, .running: waits.append(id)
            }
        }
        return waits
    }

    /// The unfinished job of this owner holding this unique key.
    private static func unfinishedJob(withKey key: String?, of owner: UInt32, in db: Database) throws -> JobID {
        let id = try Int64.fetchOne(
            db.cachedStatement(
                sql: """
                    SELECT id FROM jobs WHERE owner_uid = ? AND unique_key = ?
                        AND state IN ('scheduled', 'queued', 'running')
                    """),
            arguments: [owner, key])
        // The insert was refused for this very key in this transaction, so the row is there.
        guard let id else { throw StoreError.inconsistent("a submit's unique key \(key ?? "") matched no unfinished job") }
        return JobID(id)
    }

    public func recordStarted(_ id: JobID, at now: Timestamp) {
        committer.writeLater("start job \(id)") { db in
            try db.cachedStatement(
                sql: """
                    UPDATE jobs SET state = 'running', started_at = ?, attempts = attempts + 1, error = NULL
                    WHERE id = ? AND state NOT IN ('succeeded', 'failed', 'dead', 'cancelled')
                    """
            ).execute(arguments: [now.secondsSinceEpoch, id.rawValue])
        }
    }

    public func finish(
        _ id: JobID, state: JobState, outcome: RunOutcome, at now: Timestamp, retryAt: Timestamp? = nil
    ) -> CommitTicket<[StateChange]> {
        // A retry goes back to `queued`, or to `scheduled` until `retryAt`; anything else must be an end.
        // Anything else is a caller's bug: the job ends failed rather than the daemon trapping.
        let asked = state == .queued && retryAt != nil ? JobState.scheduled : state
        let state = asked.isFinished || asked == .queued || asked == .scheduled ? asked : JobState.failed
        var error = outcome.error
        var result: String?
        if let value = outcome.result, let bytes = try? WireJSON.encode(value) {
            if bytes.count <= Self.maximumResultBytes {
                result = String(decoding: bytes, as: UTF8.self)
            } else {
                error = (error.map { $0 + "; " } ?? "") + "result of \(bytes.count) bytes exceeded the 1 MiB cap"
            }
        }
        // A job going back to `queued` (a retry) keeps the last attempt's outcome but has no finish time.
        let arguments: StatementArguments = [
            state.rawValue, state.isFinished ? now.secondsSinceEpoch : nil, outcome.exitCode, outcome.signal, error,
            result, outcome.wallSeconds, outcome.cpuUserSeconds, outcome.cpuSystemSeconds, outcome.maxRSSBytes,
            // A worker's frame could carry any number: out of range, it is stored as unknown rather than
            // failing the CHECK and with it the whole outcome.
            outcome.workerPID, outcome.waitSeconds.flatMap { $0.isFinite && $0 >= 0 ? $0 : nil },
            retryAt?.secondsSinceEpoch, id.rawValue,
        ]
        let retried = !state.isFinished
        let attemptArguments: StatementArguments = [
            now.secondsSinceEpoch, outcome.exitCode, outcome.signal, error, outcome.wallSeconds, outcome.cpuUserSeconds,
            outcome.cpuSystemSeconds, outcome.maxRSSBytes, outcome.workerPID,
            outcome.waitSeconds.flatMap { $0.isFinite && $0 >= 0 ? $0 : nil }, id.rawValue,
        ]
        return committer.enqueue("finish job \(id)") { db in
            // The attempt that ends here is the row's latest; before a retry overwrites it, it is kept.
            if retried {
                try db.cachedStatement(
                    sql: """
                        INSERT OR REPLACE INTO attempts (job_id, number, started_at, finished_at, exit_code, signal,
                            error, wall_seconds, cpu_user_seconds, cpu_system_seconds, max_rss_bytes, worker_pid,
                            wait_seconds)
                        SELECT id, attempts, started_at, ?, ?, ?, ?, ?, ?, ?, ?, ?, ? FROM jobs WHERE id = ? AND attempts >= 1
                        """
                ).execute(arguments: attemptArguments)
            }
            let moved: [StateChange]
            switch state {
            case .succeeded: moved = try Self.releaseDependents(of: id, at: now, in: db)
            case .failed, .dead, .cancelled: moved = try Self.cancelDependents(of: id, because: state, at: now, in: db)
            case .scheduled, .queued, .running: moved = []
            }
            try db.cachedStatement(
                sql: """
                    UPDATE jobs SET state = ?, finished_at = ?, exit_code = ?, signal = ?, error = ?, result = ?,
                        wall_seconds = ?, cpu_user_seconds = ?, cpu_system_seconds = ?, max_rss_bytes = ?,
                        worker_pid = ?, wait_seconds = ?, run_at = ?, unclean_stops = 0, claimed_by = NULL
                    WHERE id = ?
                    """
            ).execute(arguments: arguments)
            return moved
        }
    }

    /// `id` succeeded: its dependents stop waiting for it; those that wait for nothing more become
    /// `queued` (or stay `scheduled`, if their `run_at` is still ahead). - Returns: those that became `queued`.
    static func releaseDependents(of id: JobID, at now: Timestamp, in db: Database) throws -> [StateChange] {
        let dependents = try Row.fetchAll(
            db.cachedStatement(
                sql: """
                    SELECT d.job_id, j.owner_uid, j.class FROM job_dependencies d JOIN jobs j ON j.id = d.job_id
                    WHERE d.depends_on_id = ?
                    """),
            arguments: [id.rawValue])
        guard !dependents.isEmpty else { return [] }
        try db.cachedStatement(sql: "DELETE FROM job_dependencies WHERE depends_on_id = ?").execute(arguments: [id.rawValue])
        let release = try db.cachedStatement(
            sql: """
                UPDATE jobs SET state = 'queued'
                WHERE id = ?1 AND state = 'scheduled' AND (run_at IS NULL OR run_at <= ?2)
                    AND NOT EXISTS (SELECT 1 FROM job_dependencies WHERE job_id = ?1)
                """)
        var released: [StateChange] = []
        for row in dependents {
            let dependent: Int64 = row[0]
            try release.execute(arguments: [dependent, now.secondsSinceEpoch])
            if db.changesCount == 1 {
                released.append(
                    StateChange(
                        id: JobID(rawValue: dependent), owner: row[1], class: JobClass(rawValue: row[2]) ?? .cpu,
                        from: .scheduled, to: .queued))
            }
        }
        return released
    }

    /// `id` ended without success: every job that waits for it, directly or through others, can never run
    /// and ends `cancelled`, saying why. - Returns: the jobs cancelled.
    static func cancelDependents(
        of id: JobID, because state: JobState, at now: Timestamp, in db: Database
    ) throws -> [StateChange] {
        // Each with the job it waited for: the one that ended, or one cancelled in turn (a message that
        // named the first job to every job down the chain sent readers to the wrong one, issue 18).
        let doomed = try Row.fetchAll(
            db.cachedStatement(
                sql: """
                    WITH RECURSIVE doomed(id, waited_for) AS (
                        SELECT job_id, depends_on_id FROM job_dependencies WHERE depends_on_id = ?
                        UNION SELECT d.job_id, d.depends_on_id FROM job_dependencies d JOIN doomed ON d.depends_on_id = doomed.id)
                    SELECT doomed.id, MIN(doomed.waited_for), j.owner_uid, j.class, j.state
                    FROM doomed JOIN jobs j ON j.id = doomed.id GROUP BY doomed.id
                    """),
            arguments: [id.rawValue])
        guard !doomed.isEmpty else { return [] }
        let cancel = try db.cachedStatement(
            sql: """
                UPDATE jobs SET state = 'cancelled', finished_at = ?, error = ?
                WHERE id = ? AND state IN ('scheduled', 'queued') AND claimed_by IS NULL
                """)
        let forget = try db.cachedStatement(sql: "DELETE FROM job_dependencies WHERE job_id = ? OR depends_on_id = ?")
        var cancelled: [StateChange] = []
        for row in doomed {
            let job: Int64 = row[0]
            let waitedFor = JobID(rawValue: row[1])
            let reason = Self.dependencyFailure(waitedFor, waitedFor == id ? state : .cancelled)
            try cancel.execute(arguments: [now.secondsSinceEpoch, reason, job])
            if db.changesCount == 1, let from = JobState(rawValue: row[4]) {
                cancelled.append(
                    StateChange(
                        id: JobID(rawValue: job), owner: row[2], class: JobClass(rawValue: row[3]) ?? .cpu, from: from,
                        to: .cancelled))
            }
        }
        for row in doomed {
            let job: Int64 = row[0]
            try forget.execute(arguments: [job, job])
        }
        try forget.execute(arguments: [id.rawValue, id.rawValue])
        return cancelled
    }

    /// The error of a job cancelled because one it waits for ended without success.
    public static func dependencyFailure(_ id: JobID, _ state: JobState) -> String {
        "cancelled: job \(id), which it waits for, ended \(state.rawValue)"
    }

    public func waitsFor(_ id: JobID) async throws -> [JobID] {
        // A succeeded dependency's row is deleted as it ends: the rows left are what the job waits for.
        try await writer.read { db in
            try Int64.fetchAll(
                db.cachedStatement(sql: "SELECT depends_on_id FROM job_dependencies WHERE job_id = ? ORDER BY depends_on_id"),
                arguments: [id.rawValue]
            ).map(JobID.init(rawValue:))
        }
    }

    public func retry(_ id: JobID, at now: Timestamp) async throws -> RetryResult {
        try await committer.write { db -> RetryResult in
            // An unfinished job of the owner holding the same unique key wins: the partial unique index would
            // refuse the update.
            if let holder = try Int64.fetchOne(
                db,
                sql: """
                    SELECT other.id FROM jobs AS this JOIN jobs AS other
                        ON other.owner_uid = this.owner_uid AND other.unique_key = this.unique_key
                    WHERE this.id = ? AND other.id <> this.id AND other.state IN ('scheduled', 'queued', 'running')
                    """,
                arguments: [id.rawValue])
            {
                return .keyHeld(by: JobID(holder))
            }
            try db.cachedStatement(
                sql: """
                    INSERT OR REPLACE INTO attempts (job_id, number, started_at, finished_at, exit_code, signal, error,
                        wall_seconds, cpu_user_seconds, cpu_system_seconds, max_rss_bytes, worker_pid, wait_seconds)
                    SELECT id, attempts, started_at, finished_at, exit_code, signal, error, wall_seconds,
                        cpu_user_seconds, cpu_system_seconds, max_rss_bytes, worker_pid, wait_seconds
                    FROM jobs WHERE id = ? AND attempts >= 1 AND state IN ('failed', 'dead', 'cancelled')
                    """
            ).execute(arguments: [id.rawValue])
            try db.cachedStatement(
                sql: """
                    UPDATE jobs SET state = 'queued', max_attempts = MAX(max_attempts, MIN(attempts + 1, ?)),
                        finished_at = NULL, exit_code = NULL, signal = NULL, error = NULL, result = NULL, run_at = ?,
                        unclean_stops = 0
                    WHERE id = ? AND state IN ('failed', 'dead', 'cancelled')
                    """
            ).execute(arguments: [JobLimits.maxAttemptsRange.upperBound, now.secondsSinceEpoch, id.rawValue])
            guard db.changesCount == 1 else { return .notRetryable }
            // What it waited for no longer holds it back: a retry is a deliberate "run it now".
            try db.cachedStatement(sql: "DELETE FROM job_dependencies WHERE job_id = ?").execute(arguments: [id.rawValue])
            guard let job = try Row.fetchOne(
                db.cachedStatement(sql: "SELECT \(Job.columns) FROM jobs WHERE id = ?"), arguments: [id.rawValue]
            ).map(Job.init(row:)) else { return .notRetryable }
            return .queued(job)
        }
    }

    public func cancelWaiting(_ id: JobID, at now: Timestamp) async throws -> [StateChange]? {
        try await committer.write { db -> [StateChange]? in
            // A claimed job is its jobd's to stop (it may wait in a worker); this cancels only one that waits.
            guard let row = try Row.fetchOne(
                db.cachedStatement(
                    sql: """
                        SELECT owner_uid, class, state FROM jobs
                        WHERE id = ? AND state IN ('scheduled', 'queued') AND claimed_by IS NULL
                        """),
                arguments: [id.rawValue]),
                let from = JobState(rawValue: row[2])
            else { return nil }
            try db.cachedStatement(
                sql: "UPDATE jobs SET state = 'cancelled', finished_at = ?, error = 'cancelled before it started' WHERE id = ?"
            ).execute(arguments: [now.secondsSinceEpoch, id.rawValue])
            let itself = StateChange(id: id, owner: row[0], class: JobClass(rawValue: row[1]) ?? .cpu, from: from, to: .cancelled)
            return [itself] + (try Self.cancelDependents(of: id, because: .cancelled, at: now, in: db))
        }
    }

    public func jobs(_ ids: [JobID]) async throws -> [JobID: Job] {
        try await rows(of: ids, columns: Job.columns) { row in
            let job = try Job(row: row)
            return (job.id, job)
        }
    }

    public func unfinished(_ ids: [JobID]) async throws -> Set<JobID> {
        let states = try await rows(of: ids, columns: "id, state") { row in
            (JobID(rawValue: row[0]), JobState(rawValue: row[1]) ?? .failed)
        }
        return Set(states.filter { !$0.value.isFinished }.keys)
    }

    public func owners(_ ids: [JobID]) async throws -> [JobID: UInt32] {
        try await rows(of: ids, columns: "id, owner_uid") { row in (JobID(rawValue: row[0]), row[1]) }
    }

    /// `SELECT columns FROM jobs WHERE id IN (...)` for many ids in one read, in chunks that stay under
    /// SQLite's limit on bound parameters. Statements are cached: preparing one runs GRDB's authorizer
    /// over it, which was the biggest cost of a Wait.
    private func rows<Value: Sendable>(
        of ids: [JobID], columns: String, _ read: @escaping @Sendable (Row) throws -> (JobID, Value)
    ) async throws -> [JobID: Value] {
        guard !ids.isEmpty else { return [:] }
        return try await writer.read { db in
            var found: [JobID: Value] = [:]
            for chunk in stride(from: 0, to: ids.count, by: 500).map({ ids[$0..<min($0 + 500, ids.count)] }) {
                let marks = chunk.map { _ in "?" }.joined(separator: ",")
                let statement = try db.cachedStatement(sql: "SELECT \(columns) FROM jobs WHERE id IN (\(marks))")
                // A cursor reads each row in place; fetchAll copied every row first (perf: 5% of a 20,000-job burst).
                let rows = try Row.fetchCursor(statement, arguments: StatementArguments(chunk.map(\.rawValue)))
                while let row = try rows.next() {
                    let (id, value) = try read(row)
                    found[id] = value
                }
            }
            return found
        }
    }

    /// Keeps the latest attempt of a running job that is being put back to `queued` without an outcome.
    private static func keepAttempt(of id: JobID, endedAt now: Timestamp, error: String, in db: Database) throws {
        try db.cachedStatement(
            sql: """
                INSERT OR REPLACE INTO attempts (job_id, number, started_at, finished_at, error)
                SELECT id, attempts, started_at, ?, ? FROM jobs WHERE id = ? AND state = 'running' AND attempts >= 1
                """
        ).execute(arguments: [now.secondsSinceEpoch, error, id.rawValue])
    }

    public func attempts(of id: JobID) async throws -> [AttemptRecord] {
        try await writer.read { db in
            var records = try Row.fetchAll(
                db.cachedStatement(
                    sql: """
                        SELECT number, started_at, finished_at, exit_code, signal, error, wall_seconds,
                            cpu_user_seconds, cpu_system_seconds, max_rss_bytes, worker_pid, wait_seconds
                        FROM attempts WHERE job_id = ? ORDER BY number
                        """),
                arguments: [id.rawValue]
            ).map { row in
                AttemptRecord(
                    number: row[0], startedAt: (row[1] as Double?).map(Timestamp.init(secondsSinceEpoch:)),
                    finishedAt: (row[2] as Double?).map(Timestamp.init(secondsSinceEpoch:)),
                    outcome: RunOutcome(
                        exitCode: row[3], signal: row[4], error: row[5], wallSeconds: row[6] ?? 0,
                        cpuUserSeconds: row[7] ?? 0, cpuSystemSeconds: row[8] ?? 0, maxRSSBytes: row[9], workerPID: row[10],
                        waitSeconds: row[11]))
            }
            // The latest attempt is the job's own row: running, or how the job ended.
            if let job = try Row.fetchOne(
                db.cachedStatement(sql: "SELECT \(Job.columns) FROM jobs WHERE id = ?"), arguments: [id.rawValue]
            ).map(Job.init(row:)), job.attempts > (records.last?.number ?? 0) {
                records.append(
                    AttemptRecord(
                        number: job.attempts, startedAt: job.startedAt,
                        finishedAt: job.state == .running ? nil : job.finishedAt,
                        outcome: job.state == .running ? nil : job.outcome))
            }
            return records
        }
    }

    public func job(_ id: JobID) async throws -> Job? {
        try await writer.read { db in
            try Row.fetchOne(
                db.cachedStatement(sql: "SELECT \(Job.columns) FROM jobs WHERE id = ?"), arguments: [id.rawValue]
            ).map(Job.init(row:))
        }
    }

    public func jobs(matching filter: JobFilter) async throws -> (jobs: [Job], more: Bool) {
        var conditions: [String] = []
        var arguments: StatementArguments = []
        if let states = filter.states, !states.isEmpty {
            conditions.append("state IN (\(states.map { _ in "?" }.joined(separator: ",")))")
            for state in states { arguments += [state.rawValue] }
        }
        if let queue = filter.queue {
            conditions.append("queue = ?")
            arguments += [queue]
        }
        if let before = filter.beforeID {
            conditions.append("id < ?")
            arguments += [before.rawValue]
        }
        if let owner = filter.ownerUID {
            conditions.append("owner_uid = ?")
            arguments += [owner]
        }
        let whereClause = conditions.isEmpty ? "" : "WHERE " + conditions.joined(separator: " AND ")
        arguments += [filter.limit + 1]
        let sql = "SELECT \(Job.columns) FROM jobs \(whereClause) ORDER BY id DESC LIMIT ?"
        let finalArguments = arguments
        let found = try await writer.read { db in
            try Row.fetchAll(db, sql: sql, arguments: finalArguments).map(Job.init(row:))
        }
        return (Array(found.prefix(filter.limit)), found.count > filter.limit)
    }
}

// MARK: - Retention

extension SQLiteStore {
    public func prune(finishedBy cutoff: Timestamp, states: Set<JobState>, ownerUID: UInt32?, limit: Int) async throws
        -> [PrunedJob]
    {
        // Only finished states, whatever the caller passed: a queued or running job is never pruned.
        let states = states.filter(\.isFinished).map(\.rawValue).sorted()
        guard !states.isEmpty, limit > 0 else { return [] }
        var conditions = [
            "finished_at IS NOT NULL", "finished_at <= ?",
            "+state IN (\(states.map { _ in "?" }.joined(separator: ",")))",
        ]
        var arguments: StatementArguments = [cutoff.secondsSinceEpoch]
        for state in states { arguments += [state] }
        if let ownerUID {
            conditions.append("owner_uid = ?")
            arguments += [ownerUID]
        }
        arguments += [limit]
        // `finished_at IS NOT NULL` lets SQLite use the partial index jobs_finished (migration 0005); the
        // unary `+` keeps it from picking jobs_by_state instead, which would read and sort every finished
        // job for each batch (EXPLAIN QUERY PLAN: "SEARCH jobs USING INDEX jobs_finished").
        let select = """
            SELECT id, class, state FROM jobs WHERE \(conditions.joined(separator: " AND "))
            ORDER BY finished_at LIMIT ?
            """
        let finalArguments = arguments
        // Through the group committer, one bounded batch per call: a prune of a million jobs holds the
        // writer for one batch at a time, and submits queued meanwhile commit between batches.
        return try await committer.write { db in
            var pruned: [PrunedJob] = []
            for row in try Row.fetchAll(db, sql: select, arguments: finalArguments) {
                guard let jobClass = JobClass(rawValue: row[1]), let state = JobState(rawValue: row[2]) else {
                    continue  // the schema's CHECKs make this unreachable; skip rather than trap
                }
                pruned.append(PrunedJob(id: JobID(rawValue: row[0]), class: jobClass, state: state))
            }
            // job_dependencies rows go by ON DELETE CASCADE (GRDB turns foreign keys on).
            let delete = try db.cachedStatement(sql: "DELETE FROM jobs WHERE id = ? AND finished_at IS NOT NULL")
            for job in pruned { try delete.execute(arguments: [job.id.rawValue]) }
            return pruned
        }
    }
}

// MARK: - Schedules

extension SQLiteStore {
    public func scheduleTimings() async throws -> [StoredSchedule] {
        try await writer.read { db in
            try Row.fetchAll(
                db,
                sql: """
                    SELECT owner_uid, owner_gid, name, cron, every_seconds, NULL, catch_up, next_due, last_fired, last_job_id
                    FROM schedules ORDER BY owner_uid, name
                    """
            ).compactMap { try Self.schedule(from: $0, withJob: false) }
        }
    }

    public func schedule(owner: UInt32, name: String) async throws -> StoredSchedule? {
        try await writer.read { db in
            try Row.fetchOne(
                db,
                sql: """
                    SELECT owner_uid, owner_gid, name, cron, every_seconds, spec, catch_up, next_due, last_fired, last_job_id
                    FROM schedules WHERE owner_uid = ? AND name = ?
                    """,
                arguments: [owner, name]
            ).flatMap { try Self.schedule(from: $0, withJob: true) }
        }
    }

    public func schedules(of owner: UInt32?, after: (owner: UInt32, name: String)?, limit: Int) async throws
        -> (schedules: [StoredSchedule], more: Bool)
    {
        var conditions: [String] = []
        var arguments: StatementArguments = []
        if let owner {
            conditions.append("owner_uid = ?")
            arguments += [owner]
        }
        if let after {
            conditions.append("(owner_uid, name) > (?, ?)")
            arguments += [after.owner, after.name]
        }
        arguments += [limit + 1]
        let whereClause = conditions.isEmpty ? "" : "WHERE " + conditions.joined(separator: " AND ")
        let sql = """
            SELECT owner_uid, owner_gid, name, cron, every_seconds, spec, catch_up, next_due, last_fired, last_job_id
            FROM schedules \(whereClause) ORDER BY owner_uid, name LIMIT ?
            """
        let found = try await writer.read { [arguments] db in
            try Row.fetchAll(db, sql: sql, arguments: arguments).compactMap { try Self.schedule(from: $0, withJob: true) }
        }
        return (Array(found.prefix(limit)), found.count > limit)
    }

    /// A schedule from a row of the columns the reads above select; nil for a job this jobd cannot read
    /// (written by hand), which is skipped rather than fired wrong.
    private static func schedule(from row: Row, withJob: Bool) throws -> StoredSchedule? {
        var spec: JobSpec?
        if withJob {
            guard let text: String = row[5], let decoded = try? WireJSON.decode(JobSpec.self, from: Array(text.utf8)) else {
                return nil
            }
            spec = decoded
        }
        return StoredSchedule(
            ownerUID: row[0], ownerGID: row[1], name: row[2], cron: row[3], everySeconds: row[4], spec: spec,
            catchUp: (row[6] as Int) != 0, nextDue: Timestamp(secondsSinceEpoch: row[7]),
            lastFired: (row[8] as Double?).map(Timestamp.init(secondsSinceEpoch:)),
            lastJobID: (row[9] as Int64?).map(JobID.init(rawValue:)))
    }

    public func saveSchedule(_ schedule: StoredSchedule, at now: Timestamp) async throws {
        guard let job = schedule.spec else { throw StoreError.inconsistent("a schedule saved without its job") }
        let spec = String(decoding: try WireJSON.encode(job), as: UTF8.self)
        try await committer.write { db in
            try db.execute(
                sql: """
                    INSERT OR REPLACE INTO schedules (owner_uid, owner_gid, name, cron, every_seconds, spec, catch_up,
                        created_at, next_due, last_fired, last_job_id)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, NULL, NULL)
                    """,
                arguments: [
                    schedule.ownerUID, schedule.ownerGID, schedule.name, schedule.cron, schedule.everySeconds, spec,
                    schedule.catchUp ? 1 : 0, now.secondsSinceEpoch, schedule.nextDue.secondsSinceEpoch,
                ])
        }
    }

    public func removeSchedule(owner: UInt32, name: String) async throws -> Bool {
        try await committer.write { db in
            try db.execute(sql: "DELETE FROM schedules WHERE owner_uid = ? AND name = ?", arguments: [owner, name])
            return db.changesCount == 1
        }
    }

    public func fire(
        _ schedule: StoredSchedule, dueAt due: Timestamp, next: Timestamp, job: NewJob?
    ) async throws -> SubmitResult? {
        let rows = try job.map { [try InsertRow($0)] } ?? []
        return try await committer.write { db -> SubmitResult? in
            // Only the due time this daemon read: a schedule replaced or removed meanwhile does not fire.
            try db.execute(
                sql: """
                    UPDATE schedules SET next_due = ?, last_fired = CASE WHEN ? THEN ? ELSE last_fired END
                    WHERE owner_uid = ? AND name = ? AND next_due = ?
                    """,
                arguments: [
                    next.secondsSinceEpoch, !rows.isEmpty, due.secondsSinceEpoch, schedule.ownerUID, schedule.name,
                    due.secondsSinceEpoch,
                ])
            guard db.changesCount == 1 else { return nil }
            guard !rows.isEmpty else { return SubmitResult(ids: []) }
            let stored = try Self.insert(rows, in: db)
            try db.execute(
                sql: "UPDATE schedules SET last_job_id = ? WHERE owner_uid = ? AND name = ?",
                arguments: [stored.ids.first?.rawValue, schedule.ownerUID, schedule.name])
            return stored
        }
    }
}

// MARK: - Limits and pauses

extension SQLiteStore {
    public func schedulingControls() async throws -> [SchedulingControl] {
        try await writer.read { db in try Self.schedulingControls(in: db) }
    }

    static func schedulingControls(in db: Database) throws -> [SchedulingControl] {
        try Row.fetchAll(
            db.cachedStatement(sql: "SELECT target, concurrency, paused FROM scheduling_controls ORDER BY target")
        ).compactMap { row in
            SchedulingControl.Target(stored: row[0]).map {
                SchedulingControl(target: $0, limit: row[1], paused: (row[2] as Int) != 0)
            }
        }
    }

    public func saveSchedulingControl(_ control: SchedulingControl) async throws {
        try await committer.write { db in
            if control.limit == nil && !control.paused {
                try db.execute(sql: "DELETE FROM scheduling_controls WHERE target = ?", arguments: [control.target.stored])
            } else {
                try db.execute(
                    sql: "INSERT OR REPLACE INTO scheduling_controls (target, concurrency, paused) VALUES (?, ?, ?)",
                    arguments: [control.target.stored, control.limit, control.paused ? 1 : 0])
            }
        }
    }
}

// MARK: - Profiles

extension SQLiteStore {
    public func profiles() async throws -> [Profile] {
        try await writer.read { db in
            try Row.fetchAll(
                db,
                sql: """
                    SELECT owner_uid, signature, runs, cpu_ratio, demand_ratio, class, changed_at, pinned FROM owner_profiles
                    ORDER BY owner_uid, signature
                    """
            ).map { row in
                let owner: Int64 = row["owner_uid"]
                return Profile(
                    ownerUID: owner < 0 ? nil : UInt32(truncatingIfNeeded: owner),
                    signature: row["signature"], runs: row["runs"], cpuRatio: row["cpu_ratio"],
                    demandRatio: row["demand_ratio"],
                    learnedClass: (row["class"] as String?).flatMap(JobClass.init(rawValue:)),
                    changedAt: (row["changed_at"] as Double?).map(Timestamp.init(secondsSinceEpoch:)),
                    pinned: (row["pinned"] as String?).flatMap(JobClass.init(rawValue:)))
            }
        }
    }

    public func saveProfile(_ profile: Profile, at now: Timestamp) -> CommitTicket<Void> {
        let arguments: StatementArguments = [
            Self.ownerColumn(profile.ownerUID), profile.signature, profile.runs, profile.cpuRatio, profile.demandRatio,
            profile.learnedClass?.rawValue, profile.changedAt?.secondsSinceEpoch, profile.pinned?.rawValue,
            now.secondsSinceEpoch,
        ]
        return committer.enqueue("save profile") { db in
            try db.cachedStatement(
                sql: """
                    INSERT OR REPLACE INTO owner_profiles
                        (owner_uid, signature, runs, cpu_ratio, demand_ratio, class, changed_at, pinned, updated_at)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
                    """
            ).execute(arguments: arguments)
        }
    }

    public func deleteProfile(owner: UInt32?, signature: String) -> CommitTicket<Void> {
        let owner = Self.ownerColumn(owner)
        return committer.enqueue("reset profile") { db in
            try db.execute(
                sql: "DELETE FROM owner_profiles WHERE owner_uid = ? AND signature = ?", arguments: [owner, signature])
        }
    }

    /// -1 stands for "everyone" (a daemon-wide pin) in `owner_profiles.owner_uid`.
    private static func ownerColumn(_ owner: UInt32?) -> Int64 { owner.map(Int64.init) ?? -1 }

    public func updateClassReason(_ id: JobID, reason: String) {
        committer.writeLater("reason of job \(id)") { db in
            try db.execute(sql: "UPDATE jobs SET class_reason = ? WHERE id = ?", arguments: [reason, id.rawValue])
        }
    }
}

/// A `NewJob` turned into column values once, outside the write transaction.
private struct InsertRow: Sendable {
    /// Every column up to `signature`, then the state, then the columns after it.
    let head: StatementArguments
    let initialState: JobState
    let tail: StatementArguments
    let owner: UInt32
    let queue: String
    let queuesBounded: Bool
    let uniqueKey: String?
    let after: [JobID]
    let afterIndex: [Int]

    init(_ job: NewJob) throws {
        let spec = job.spec
        func json(_ value: (some Encodable)?) throws -> String? {
            try value.map { String(decoding: try WireJSON.encode($0), as: UTF8.self) }
        }
        head = [
            spec.name, spec.resolvedKind, try json(spec.payload) ?? "null", try json(spec.argv), try json(spec.env),
            spec.cwd, spec.queue ?? "default", job.class.rawValue, job.classSource.rawValue, job.classReason,
            spec.priority ?? 0, spec.maxAttempts ?? 1, spec.timeoutSeconds, job.ownerUID, job.ownerGID,
            job.createdAt.secondsSinceEpoch, job.signature,
        ]
        initialState = job.initialState
        tail = [
            job.runAt?.secondsSinceEpoch, (spec.backoff ?? .exp).rawValue, spec.backoffSeconds ?? 1, spec.uniqueKey,
            spec.onSuccess, spec.onFailure, job.hookOf?.rawValue,
        ]
        owner = job.ownerUID
        queue = spec.queue ?? "default"
        queuesBounded = job.queuesBounded
        uniqueKey = spec.uniqueKey
        after = spec.after ?? []
        afterIndex = spec.afterIndex ?? []
    }

    /// The row's values; a job that waits for others is stored `scheduled`.
    func arguments(waiting: Bool) -> StatementArguments {
        head + [waiting ? JobState.scheduled.rawValue : initialState.rawValue] + tail
    }
}

extension JobID: DatabaseValueConvertible, StatementColumnConvertible {
    public var databaseValue: DatabaseValue { rawValue.databaseValue }

    public static func fromDatabaseValue(_ dbValue: DatabaseValue) -> JobID? {
        Int64.fromDatabaseValue(dbValue).map(JobID.init(rawValue:))
    }

    public init(sqliteStatement: SQLiteStatement, index: CInt) {
        self.init(rawValue: Int64(sqliteStatement: sqliteStatement, index: index))
    }
}
