import GRDB
import JobdProtocol

/// The claim: where the order users see (priority, then due time, then id), the queue limits and the
/// pauses are decided, in one transaction, by the store (issue 19). The daemon keeps no waiting job.
extension SQLiteStore {
    /// What `claimed_by` holds for this jobd. One jobd per database file (its lock), so one name does.
    static let node = "jobd"

    /// Scheduled jobs made `queued` by one claim at most; more wait for the next one (the claim reports
    /// the earliest left as its `nextDue`, which is already past, so the daemon claims again at once).
    static let maximumDuePerClaim = 10_000

    /// Rows a claim reads past those it takes before it gives up on a class: rows skipped are in a queue
    /// that filled up during this claim; the rest wait for the next claim.
    static let maximumSkippedPerClaim = 10_000

    public func claim(_ request: ClaimRequest) async throws -> Claim {
        try await committer.write { db in try Self.claim(request, in: db) }
    }

    static func claim(_ request: ClaimRequest, in db: Database) throws -> Claim {
        let now = request.now.secondsSinceEpoch
        var claim = Claim()
        claim.due = try promoteDue(at: now, in: db)

        var pausedClasses = Set<JobClass>()
        var pausedAll = false
        var pausedQueues = Set<String>()
        var limits: [String: Int] = [:]
        for control in try schedulingControls(in: db) {
            switch control.target {
            case .all: pausedAll = pausedAll || control.paused
            case .jobClass(let jobClass): if control.paused { pausedClasses.insert(jobClass) }
            case .queue(let name):
                if control.paused { pausedQueues.insert(name) }
                if let limit = control.limit { limits[name] = limit }
            }
        }
        if pausedAll {
            claim.exhausted = Set(JobClass.allCases)
        } else {
            // Room left in each limited queue: its limit less the jobs claimed or running in it (any jobd's).
            var room: [String: Int] = [:]
            let held = try db.cachedStatement(sql: "SELECT COUNT(*) FROM jobs WHERE queue = ? AND claimed_by IS NOT NULL")
            for (queue, limit) in limits where !pausedQueues.contains(queue) {
                room[queue] = limit - (try Int.fetchOne(held, arguments: [queue]) ?? 0)
            }
            var left = ClaimRequest.maximumJobs
            var taken: [Job] = []
            claim.exhausted = pausedClasses
            for jobClass in JobClass.allCases where !pausedClasses.contains(jobClass) {
                let wanted = min(request.asked(jobClass), left)
                guard wanted > 0 else { continue }
                let (jobs, exhausted) = try ready(jobClass, wanted: wanted, skipping: pausedQueues, room: &room, in: db)
                left -= jobs.count
                taken += jobs
                if exhausted { claim.exhausted.insert(jobClass) }
            }
            // One statement per job, no RETURNING (the rows were read whole by `ready`): a job for a free slot
            // whose kind begins at once (an I/O-class handler) is claimed and started together; any other is
            // only claimed, and starts when its runner runs it.
            let mark = try db.cachedStatement(sql: "UPDATE jobs SET claimed_by = ? WHERE id = ? AND claimed_by IS NULL")
            let markAndStart = try db.cachedStatement(
                sql: """
                    UPDATE jobs SET claimed_by = ?, state = 'running', started_at = ?, attempts = attempts + 1, error = NULL
                    WHERE id = ? AND claimed_by IS NULL
                    """)
            claim.jobs.reserveCapacity(taken.count)
            var forSlots = request.slots
            for job in taken {
                // Only a job for a free slot starts now; one claimed ahead starts when a slot frees.
                let fillsASlot = forSlots[job.class, default: 0] > 0
                forSlots[job.class, default: 0] -= 1
                let starts = fillsASlot && job.class == .io && request.startingKinds.contains(job.kind)
                // The job is returned as read, before its start (``Claim/started``).
                if starts {
                    try markAndStart.execute(arguments: [node, now, job.id.rawValue])
                    claim.started.insert(job.id)
                } else {
                    try mark.execute(arguments: [node, job.id.rawValue])
                }
                guard db.changesCount == 1 else { continue }
                claim.jobs.append(job)
            }
        }
        claim.nextDue = try Double.fetchOne(
            db.cachedStatement(
                sql: """
                    SELECT run_at FROM jobs INDEXED BY jobs_due WHERE state = 'scheduled' AND run_at IS NOT NULL
                        AND NOT EXISTS (SELECT 1 FROM job_dependencies WHERE job_id = jobs.id)
                    ORDER BY run_at LIMIT 1
                    """)
        ).map(Timestamp.init(secondsSinceEpoch:))
        return claim
    }

    public func unclaim(_ ids: [JobID]) async throws {
        try await committer.write { db in
            let release = try db.cachedStatement(sql: "UPDATE jobs SET claimed_by = NULL WHERE id = ? AND state = 'queued'")
            for id in ids { try release.execute(arguments: [id.rawValue]) }
        }
    }

    /// Scheduled jobs whose `run_at` has come and that wait for no other job become `queued`. (`INDEXED BY`:
    /// without statistics SQLite would scan every scheduled job by state and sort them, at each claim.)
    private static func promoteDue(at now: Double, in db: Database) throws -> [StateChange] {
        let due = try Row.fetchAll(
            db.cachedStatement(
                sql: """
                    SELECT id, owner_uid, class FROM jobs INDEXED BY jobs_due WHERE state = 'scheduled' AND run_at <= ?
                        AND NOT EXISTS (SELECT 1 FROM job_dependencies WHERE job_id = jobs.id)
                    ORDER BY run_at LIMIT ?
                    """),
            arguments: [now, maximumDuePerClaim])
        guard !due.isEmpty else { return [] }
        let promote = try db.cachedStatement(sql: "UPDATE jobs SET state = 'queued' WHERE id = ? AND state = 'scheduled'")
        return try due.map { row in
            try promote.execute(arguments: [row[0] as Int64])
            return StateChange(
                id: JobID(rawValue: row[0]), owner: row[1], class: JobClass(rawValue: row[2]) ?? .cpu, from: .scheduled,
                to: .queued)
        }
    }

    /// Up to `wanted` ready jobs of a class, best first, none from a paused queue or one without room
    /// (`room` is spent as jobs are taken). The `jobs_ready` index gives them in order.
    private static func ready(
        _ jobClass: JobClass, wanted: Int, skipping paused: Set<String>, room: inout [String: Int], in db: Database
    ) throws -> (jobs: [Job], exhausted: Bool) {
        // Queues closed before the scan are left out by the query; one that fills during it is skipped.
        let closed = paused.union(room.filter { $0.value <= 0 }.keys).sorted()
        // Two texts only, so the statement cache stays at two (the closed queues go in as one JSON array,
        // not as one `?` each: every set of them would be a new statement kept for good).
        let exclusion = closed.isEmpty ? "" : " AND queue NOT IN (SELECT value FROM json_each(?))"
        let statement = try db.cachedStatement(
            sql: """
                SELECT \(Job.columns) FROM jobs INDEXED BY jobs_ready
                WHERE state = 'queued' AND claimed_by IS NULL AND class = ?\(exclusion)
                ORDER BY priority DESC, COALESCE(run_at, created_at), id
                """)
        var arguments: StatementArguments = [jobClass.rawValue]
        if !closed.isEmpty { arguments += [String(decoding: try WireJSON.encode(closed), as: UTF8.self)] }
        let rows = try Row.fetchCursor(statement, arguments: arguments)
        var taken: [Job] = []
        var skipped = 0
        while taken.count < wanted, skipped <= maximumSkippedPerClaim {
            guard let row = try rows.next() else { return (taken, true) }
            let queue: String = row[Job.queueColumn]
            if let left = room[queue] {
                guard left > 0 else {
                    skipped += 1
                    continue
                }
                room[queue] = left - 1
            }
            taken.append(try Job(row: row))
        }
        // Filled: one more row says whether any is left, so a daemon whose claim took the last job does not
        // pay an empty claim when that job's slot frees. (A row left in a full queue counts as one: the
        // next claim finds out, at the cost of one empty transaction.)
        let filled = taken.count >= wanted
        return (taken, filled ? try rows.next() == nil : false)
    }
}
