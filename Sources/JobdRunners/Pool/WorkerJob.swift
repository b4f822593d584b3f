import JobdProtocol

/// A CPU-class job handed to the pool: what its `run` frame carries.
public struct WorkerJob: Sendable {
    public var id: JobID
    public var kind: String
    public var payload: JSONValue?
    public var argv: [String]?
    public var environment: [String: String]?
    public var cwd: String?
    public var identity: (uid: UInt32, gid: UInt32)?
    public var outputPath: String
    public var outputLimit: Int64
    public var timeout: Duration?

    public init(
        id: JobID, kind: String, payload: JSONValue?, argv: [String]?, environment: [String: String]?, cwd: String?,
        identity: (uid: UInt32, gid: UInt32)?, outputPath: String, outputLimit: Int64, timeout: Duration?
    ) {
        self.id = id
        self.kind = kind
        self.payload = payload
        self.argv = argv
        self.environment = environment
        self.cwd = cwd
        self.identity = identity
        self.outputPath = outputPath
        self.outputLimit = outputLimit
        self.timeout = timeout
    }

    var runMessage: WorkerMessage {
        var message = WorkerMessage(type: .run, job: id)
        message.kind = kind
        message.payload = payload
        message.argv = argv
        message.env = environment
        message.cwd = cwd
        message.uid = identity?.uid
        message.gid = identity?.gid
        message.outputPath = outputPath
        message.outputLimit = outputLimit
        message.timeoutSeconds = timeout.map { $0.inSeconds }
        return message
    }
}

/// One worker as `status` shows it.
public struct WorkerStatus: Hashable, Sendable {
    public enum State: String, Sendable {
        /// Spawned, not yet ready.
        case starting
        case idle
        case busy
        /// Told to exit after its last job (recycling) or at shutdown.
        case retiring
    }

    /// 1-based slot number; a replacement keeps the slot of the worker it replaces.
    public var slot: Int
    public var pid: Int32?
    public var state: State
    public var jobID: JobID?
    /// Jobs this process has run.
    public var jobsRun: Int
    public var rssBytes: Int64?
}

/// How the pool starts and recycles workers.
public struct WorkerPoolConfiguration: Sendable {
    public var size: Int
    /// The worker's executable and arguments. The daemon passes `/proc/self/exe`: the very binary it runs
    /// from, even if a package upgrade has replaced the file since, so workers always match the daemon.
    public var executable: String
    public var arguments: [String]
    public var environment: [String: String]
    /// Retire a worker after this many jobs; nil: never.
    public var maxJobs: Int?
    /// Retire a worker whose resident set grew past this; nil: never.
    public var maxRSSBytes: Int64?
    /// How long a stopped job has to end before the worker (and the job's process group) is killed.
    public var killGrace: Duration

    public init(
        size: Int, executable: String, arguments: [String], environment: [String: String], maxJobs: Int?,
        maxRSSBytes: Int64?, killGrace: Duration
    ) {
        self.size = size
        self.executable = executable
        self.arguments = arguments
        self.environment = environment
        self.maxJobs = maxJobs
        self.maxRSSBytes = maxRSSBytes
        self.killGrace = killGrace
    }
}
