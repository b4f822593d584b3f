import GRDB
import JobdProtocol

extension Job {
    /// The columns `Job(row:)` reads, in a SELECT list.
    static let columns = """
        id, name, state, kind, payload, argv, env, cwd, queue, class, class_source, class_reason, priority, \
        attempts, max_attempts, timeout_seconds, owner_uid, owner_gid, created_at, started_at, finished_at, \
        exit_code, signal, error, result, wall_seconds, cpu_user_seconds, cpu_system_seconds, max_rss_bytes, \
        worker_pid, signature, wait_seconds, run_at, backoff, backoff_seconds, on_success, on_failure, hook_of
        """
    /// Where `queue` is in ``columns`` (the claim reads it before it decodes a row it may skip).
    static let queueColumn = 8

    /// Reads a row selected with ``columns``. The schema's CHECK constraints guarantee the enum texts.
    ///
    /// Columns are read by position, in the order of ``columns``: a lookup by name lowercases and hashes
    /// the name for every column of every row, which `perf` showed on the Wait path.
    init(row: Row) throws {
        func json<T: Decodable>(_ type: T.Type, _ column: Int) throws -> T? {
            guard let text: String = row[column], text != "null" else { return nil }
            return try WireJSON.decode(type, from: Array(text.utf8))
        }
        func time(_ column: Int) -> Timestamp? {
            (row[column] as Double?).map(Timestamp.init(secondsSinceEpoch:))
        }
        self.init(
            id: JobID(row[0]),
            name: row[1],
            state: JobState(rawValue: row[2])!,
            kind: row[3],
            argv: try json([String].self, 5),
            env: try json([String: String].self, 6),
            cwd: row[7],
            payload: try json(JSONValue.self, 4) ?? .null,
            queue: row[8],
            class: JobClass(rawValue: row[9])!,
            classSource: ClassSource(rawValue: row[10])!,
            classReason: row[11],
            signature: row[30],
            priority: row[12],
            attempts: row[13],
            maxAttempts: row[14],
            runAt: time(32),
            backoff: Backoff(rawValue: row[33]) ?? .exp,
            backoffSeconds: row[34],
            onSuccess: row[35],
            onFailure: row[36],
            hookOf: (row[37] as Int64?).map(JobID.init(rawValue:)),
            timeoutSeconds: row[15],
            ownerUID: row[16],
            ownerGID: row[17],
            createdAt: time(18)!,
            startedAt: time(19),
            finishedAt: time(20),
            exitCode: row[21],
            signal: row[22],
            error: row[23],
            result: try json(JSONValue.self, 24),
            wallSeconds: row[25],
            cpuUserSeconds: row[26],
            cpuSystemSeconds: row[27],
            maxRSSBytes: row[28],
            workerPID: row[29],
            waitSeconds: row[31]
        )
    }
}
