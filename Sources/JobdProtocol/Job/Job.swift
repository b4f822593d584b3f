/// A job as the daemon reports it: `io.jobd.Get`, `List`, `Wait`, and `jobctl show --json`.
///
/// Encoded with every key present; absent values are `null`, so scripts can rely on the keys.
public struct Job: Hashable, Sendable, Codable {
    public var id: JobID
    public var name: String?
    public var state: JobState
    public var kind: String
    public var argv: [String]?
    public var env: [String: String]?
    public var cwd: String?
    public var payload: JSONValue
    public var queue: String
    public var `class`: JobClass
    public var classSource: ClassSource
    /// The sentence `jobctl show` prints about why the job has its class.
    public var classReason: String?
    /// What this job's runs teach: its kind, or for exec the resolved command (docs/CLASSIFICATION.md).
    public var signature: String?
    public var priority: Int
    public var attempts: Int
    public var maxAttempts: Int
    /// Not before this time: a delayed job, or the next attempt of a retried one (state `scheduled`).
    public var runAt: Timestamp?
    /// How the pause before a retry grows, and its first (or every) length.
    public var backoff: Backoff
    public var backoffSeconds: Double
    /// Run (`sh -c`) as a job of its own when this one succeeds / fails or ends dead.
    public var onSuccess: String?
    public var onFailure: String?
    /// For a hook's job: the job it reports on (its stdin is that job's JSON).
    public var hookOf: JobID?
    public var timeoutSeconds: Double?
    public var ownerUID: UInt32
    public var ownerGID: UInt32
    public var createdAt: Timestamp
    public var startedAt: Timestamp?
    public var finishedAt: Timestamp?
    public var exitCode: Int?
    public var signal: Int?
    public var error: String?
    public var result: JSONValue?
    public var wallSeconds: Double?
    /// User + system CPU seconds of the job's whole process tree.
    public var cpuSeconds: Double?
    public var cpuUserSeconds: Double?
    public var cpuSystemSeconds: Double?
    /// Peak resident set of the job's process tree (sampled; docs/CLASSIFICATION.md says how exact).
    public var maxRSSBytes: Int64?
    public var workerPID: Int32?
    /// Seconds its processes were runnable but waiting for a CPU (schedstat, sampled while it ran).
    public var waitSeconds: Double?

    public init(
        id: JobID, name: String? = nil, state: JobState, kind: String, argv: [String]? = nil,
        env: [String: String]? = nil, cwd: String? = nil, payload: JSONValue = .null, queue: String = "default",
        class: JobClass, classSource: ClassSource, classReason: String? = nil, signature: String? = nil, priority: Int = 0,
        attempts: Int = 0, maxAttempts: Int = 1, runAt: Timestamp? = nil, backoff: Backoff = .exp,
        backoffSeconds: Double = 1, onSuccess: String? = nil, onFailure: String? = nil, hookOf: JobID? = nil,
        timeoutSeconds: Double? = nil, ownerUID: UInt32,
        ownerGID: UInt32, createdAt: Timestamp, startedAt: Timestamp? = nil, finishedAt: Timestamp? = nil,
        exitCode: Int? = nil, signal: Int? = nil, error: String? = nil, result: JSONValue? = nil,
        wallSeconds: Double? = nil, cpuUserSeconds: Double? = nil, cpuSystemSeconds: Double? = nil,
        maxRSSBytes: Int64? = nil, workerPID: Int32? = nil, waitSeconds: Double? = nil
    ) {
        self.id = id
        self.name = name
        self.state = state
        self.kind = kind
        self.argv = argv
        self.env = env
        self.cwd = cwd
        self.payload = payload
        self.queue = queue
        self.class = `class`
        self.classSource = classSource
        self.classReason = classReason
        self.signature = signature
        self.priority = priority
        self.attempts = attempts
        self.maxAttempts = maxAttempts
        self.runAt = runAt
        self.backoff = backoff
        self.backoffSeconds = backoffSeconds
        self.onSuccess = onSuccess
        self.onFailure = onFailure
        self.hookOf = hookOf
        self.timeoutSeconds = timeoutSeconds
        self.ownerUID = ownerUID
        self.ownerGID = ownerGID
        self.createdAt = createdAt
        self.startedAt = startedAt
        self.finishedAt = finishedAt
        self.exitCode = exitCode
        self.signal = signal
        self.error = error
        self.result = result
        self.wallSeconds = wallSeconds
        self.cpuUserSeconds = cpuUserSeconds
        self.cpuSystemSeconds = cpuSystemSeconds
        self.cpuSeconds = cpuUserSeconds.map { $0 + (cpuSystemSeconds ?? 0) }
        self.maxRSSBytes = maxRSSBytes
        self.workerPID = workerPID
        self.waitSeconds = waitSeconds
    }

    enum CodingKeys: String, CodingKey {
        case id, name, state, kind, argv, env, cwd, payload, queue, `class`, priority, attempts, signal, error, result
        case classSource = "class_source"
        case classReason = "class_reason"
        case signature
        case maxAttempts = "max_attempts"
        case runAt = "run_at"
        case backoff
        case backoffSeconds = "backoff_seconds"
        case onSuccess = "on_success"
        case onFailure = "on_failure"
        case hookOf = "hook_of"
        case timeoutSeconds = "timeout_seconds"
        case ownerUID = "owner_uid"
        case ownerGID = "owner_gid"
        case createdAt = "created_at"
        case startedAt = "started_at"
        case finishedAt = "finished_at"
        case exitCode = "exit_code"
        case wallSeconds = "wall_seconds"
        case cpuSeconds = "cpu_seconds"
        case cpuUserSeconds = "cpu_user_seconds"
        case cpuSystemSeconds = "cpu_system_seconds"
        case maxRSSBytes = "max_rss_bytes"
        case workerPID = "worker_pid"
        case waitSeconds = "wait_seconds"
    }

    // Written by hand so that nil becomes `null` rather than a missing key.
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(id, forKey: .id)
        try c.encode(name, forKey: .name)
        try c.encode(state, forKey: .state)
        try c.encode(kind, forKey: .kind)
        try c.encode(argv, forKey: .argv)
        try c.encode(env, forKey: .env)
        try c.encode(cwd, forKey: .cwd)
        try c.encode(payload, forKey: .payload)
        try c.encode(queue, forKey: .queue)
        try c.encode(`class`, forKey: .class)
        try c.encode(classSource, forKey: .classSource)
        try c.encode(classReason, forKey: .classReason)
        try c.encode(signature, forKey: .signature)
        try c.encode(priority, forKey: .priority)
        try c.encode(attempts, forKey: .attempts)
        try c.encode(maxAttempts, forKey: .maxAttempts)
        try c.encode(runAt, forKey: .runAt)
        try c.encode(backoff, forKey: .backoff)
        try c.encode(backoffSeconds, forKey: .backoffSeconds)
        try c.encode(onSuccess, forKey: .onSuccess)
        try c.encode(onFailure, forKey: .onFailure)
        try c.encode(hookOf, forKey: .hookOf)
        try c.encode(timeoutSeconds, forKey: .timeoutSeconds)
        try c.encode(ownerUID, forKey: .ownerUID)
        try c.encode(ownerGID, forKey: .ownerGID)
        try c.encode(createdAt, forKey: .createdAt)
        try c.encode(startedAt, forKey: .startedAt)
        try c.encode(finishedAt, forKey: .finishedAt)
        try c.encode(exitCode, forKey: .exitCode)
        try c.encode(signal, forKey: .signal)
        try c.encode(error, forKey: .error)
        try c.encode(result, forKey: .result)
        try c.encode(wallSeconds, forKey: .wallSeconds)
        try c.encode(cpuSeconds, forKey: .cpuSeconds)
        try c.encode(cpuUserSeconds, forKey: .cpuUserSeconds)
        try c.encode(cpuSystemSeconds, forKey: .cpuSystemSeconds)
        try c.encode(maxRSSBytes, forKey: .maxRSSBytes)
        try c.encode(workerPID, forKey: .workerPID)
        try c.encode(waitSeconds, forKey: .waitSeconds)
    }
}

extension Job {
    /// What its latest attempt left, as a runner reported it (its result aside when it has none).
    public var outcome: RunOutcome {
        RunOutcome(
            exitCode: exitCode, signal: signal, error: error, result: result, wallSeconds: wallSeconds ?? 0,
            cpuUserSeconds: cpuUserSeconds ?? 0, cpuSystemSeconds: cpuSystemSeconds ?? 0, maxRSSBytes: maxRSSBytes,
            workerPID: workerPID, waitSeconds: waitSeconds)
    }
}
