/// What one attempt left behind, as a runner reports it (DESIGN §2, "What a run leaves").
public struct RunOutcome: Hashable, Sendable, Codable {
    /// The process's exit code (a handler that returned counts as 0).
    public var exitCode: Int?
    /// The signal that killed the process.
    public var signal: Int?
    /// Why the attempt failed, in a sentence; nil on success.
    public var error: String?
    /// A handler's JSON result.
    public var result: JSONValue?
    public var wallSeconds: Double
    public var cpuUserSeconds: Double
    public var cpuSystemSeconds: Double
    public var maxRSSBytes: Int64?
    public var workerPID: Int32?

    public init(
        exitCode: Int? = nil, signal: Int? = nil, error: String? = nil, result: JSONValue? = nil,
        wallSeconds: Double, cpuUserSeconds: Double = 0, cpuSystemSeconds: Double = 0, maxRSSBytes: Int64? = nil,
        workerPID: Int32? = nil
    ) {
        self.exitCode = exitCode
        self.signal = signal
        self.error = error
        self.result = result
        self.wallSeconds = wallSeconds
        self.cpuUserSeconds = cpuUserSeconds
        self.cpuSystemSeconds = cpuSystemSeconds
        self.maxRSSBytes = maxRSSBytes
        self.workerPID = workerPID
    }

    enum CodingKeys: String, CodingKey {
        case signal, error, result
        case exitCode = "exit_code"
        case wallSeconds = "wall_seconds"
        case cpuUserSeconds = "cpu_user_seconds"
        case cpuSystemSeconds = "cpu_system_seconds"
        case maxRSSBytes = "max_rss_bytes"
        case workerPID = "worker_pid"
    }

    /// True when the attempt succeeded: exit code 0, no signal, no error.
    public var isSuccess: Bool { exitCode == 0 && signal == nil && error == nil }
}
