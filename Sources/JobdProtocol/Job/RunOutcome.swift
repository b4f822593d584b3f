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
    /// The peak resident set of the job's process tree (docs/CLASSIFICATION.md says how exact), in bytes.
    public var maxRSSBytes: Int64?
    public var workerPID: Int32?
    /// Seconds the job's processes were runnable but waiting for a CPU (schedstat run-queue delay, sampled
    /// while it ran); nil where it is not measured (handlers).
    public var waitSeconds: Double?

    public init(
        exitCode: Int? = nil, signal: Int? = nil, error: String? = nil, result: JSONValue? = nil,
        wallSeconds: Double, cpuUserSeconds: Double = 0, cpuSystemSeconds: Double = 0, maxRSSBytes: Int64? = nil,
        workerPID: Int32? = nil, waitSeconds: Double? = nil
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
        self.waitSeconds = waitSeconds
    }

    enum CodingKeys: String, CodingKey {
        case signal, error, result
        case exitCode = "exit_code"
        case wallSeconds = "wall_seconds"
        case cpuUserSeconds = "cpu_user_seconds"
        case cpuSystemSeconds = "cpu_system_seconds"
        case maxRSSBytes = "max_rss_bytes"
        case workerPID = "worker_pid"
        case waitSeconds = "wait_seconds"
    }

    /// CPU seconds per wall second: the share of a core the job got.
    public var cpuRatio: Double? {
        wallSeconds > 0 ? (cpuUserSeconds + cpuSystemSeconds) / wallSeconds : nil
    }

    /// (CPU + run-queue wait) per wall second: the share of a core the job *wanted*, which stays near 1
    /// for a CPU-bound job however many others share the cores (issue 10). The CPU ratio where the wait
    /// is not measured.
    public var demandRatio: Double? {
        guard wallSeconds > 0 else { return nil }
        return (cpuUserSeconds + cpuSystemSeconds + (waitSeconds ?? 0)) / wallSeconds
    }

    /// True when the attempt succeeded: exit code 0, no signal, no error.
    public var isSuccess: Bool { exitCode == 0 && signal == nil && error == nil }
}
