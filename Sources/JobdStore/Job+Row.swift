import GRDB
import JobdProtocol

extension Job {
    /// The columns `Job(row:)` reads, in a SELECT list.
    static let columns = """
        id, name, state, kind, payload, argv, env, cwd, queue, class, class_source, class_reason, priority, \
        attempts, max_attempts, timeout_seconds, owner_uid, owner_gid, created_at, started_at, finished_at, \
        exit_code, signal, error, result, wall_seconds, cpu_user_seconds, cpu_system_seconds, max_rss_bytes, \
        worker_pid, signature
        """

    /// Reads a row selected with ``columns``. The schema's CHECK constraints guarantee the enum texts.
    init(row: Row) throws {
        func json<T: Decodable>(_ type: T.Type, _ column: String) throws -> T? {
            guard let text: String = row[column] else { return nil }
            return try WireJSON.decode(type, from: Array(text.utf8))
        }
        func time(_ column: String) -> Timestamp? {
            (row[column] as Double?).map(Timestamp.init(secondsSinceEpoch:))
        }
        self.init(
            id: JobID(row["id"]),
            name: row["name"],
            state: JobState(rawValue: row["state"])!,
            kind: row["kind"],
            argv: try json([String].self, "argv"),
            env: try json([String: String].self, "env"),
            cwd: row["cwd"],
            payload: try json(JSONValue.self, "payload") ?? .null,
            queue: row["queue"],
            class: JobClass(rawValue: row["class"])!,
            classSource: ClassSource(rawValue: row["class_source"])!,
            classReason: row["class_reason"],
            signature: row["signature"],
            priority: row["priority"],
            attempts: row["attempts"],
            maxAttempts: row["max_attempts"],
            timeoutSeconds: row["timeout_seconds"],
            ownerUID: row["owner_uid"],
            ownerGID: row["owner_gid"],
            createdAt: time("created_at")!,
            startedAt: time("started_at"),
            finishedAt: time("finished_at"),
            exitCode: row["exit_code"],
            signal: row["signal"],
            error: row["error"],
            result: try json(JSONValue.self, "result"),
            wallSeconds: row["wall_seconds"],
            cpuUserSeconds: row["cpu_user_seconds"],
            cpuSystemSeconds: row["cpu_system_seconds"],
            maxRSSBytes: row["max_rss_bytes"],
            workerPID: row["worker_pid"]
        )
    }
}
