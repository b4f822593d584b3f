/// One attempt of a job as `jobctl show` lists it: when it ran and how it ended.
public struct AttemptRecord: Hashable, Sendable, Codable {
    /// 1 for the first attempt.
    public var number: Int
    public var startedAt: Timestamp?
    /// Nil while it runs.
    public var finishedAt: Timestamp?
    public var exitCode: Int?
    public var signal: Int?
    public var error: String?
    public var wallSeconds: Double?
    public var cpuUserSeconds: Double?
    public var cpuSystemSeconds: Double?
    public var maxRSSBytes: Int64?
    public var workerPID: Int32?

    public init(
        number: Int, startedAt: Timestamp?, finishedAt: Timestamp?, exitCode: Int? = nil, signal: Int? = nil,
        error: String? = nil, wallSeconds: Double? = nil, cpuUserSeconds: Double? = nil,
        cpuSystemSeconds: Double? = nil, maxRSSBytes: Int64? = nil, workerPID: Int32? = nil
    ) {
        self.number = number
        self.startedAt = startedAt
        self.finishedAt = finishedAt
        self.exitCode = exitCode
        self.signal = signal
        self.error = error
        self.wallSeconds = wallSeconds
        self.cpuUserSeconds = cpuUserSeconds
        self.cpuSystemSeconds = cpuSystemSeconds
        self.maxRSSBytes = maxRSSBytes
        self.workerPID = workerPID
    }

    enum CodingKeys: String, CodingKey {
        case number, signal, error
        case startedAt = "started_at"
        case finishedAt = "finished_at"
        case exitCode = "exit_code"
        case wallSeconds = "wall_seconds"
        case cpuUserSeconds = "cpu_user_seconds"
        case cpuSystemSeconds = "cpu_system_seconds"
        case maxRSSBytes = "max_rss_bytes"
        case workerPID = "worker_pid"
    }
}
