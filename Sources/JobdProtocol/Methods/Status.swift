/// `io.jobd.Status`: counts by state and class, limits, uptime. Counts are kept as jobs move, not counted.
public enum Status {
    public static let method = "io.jobd.Status"

    public typealias Parameters = Empty

    public struct Reply: Hashable, Sendable, Codable {
        public var version: String
        public var pid: Int32
        public var uptimeSeconds: Double
        public var total: StateCounts
        public var cpu: StateCounts
        public var io: StateCounts
        /// CPU-class jobs that may run at once.
        public var cpuLimit: Int
        /// I/O-class jobs that may run at once.
        public var ioLimit: Int
        public var database: String
        /// Jobs finished since start-up.
        public var finishedSinceStart: Int64
        /// The CPU pool, one entry per slot.
        public var workers: [WorkerInfo]
        /// Queues with a limit, a pause, or a job running.
        public var queues: [QueueInfo]
        /// Classes paused (`cpu`, `io`), or `all`.
        public var paused: [String]

        public init(
            version: String, pid: Int32, uptimeSeconds: Double, total: StateCounts, cpu: StateCounts,
            io: StateCounts, cpuLimit: Int, ioLimit: Int, database: String, finishedSinceStart: Int64,
            workers: [WorkerInfo], queues: [QueueInfo] = [], paused: [String] = []
        ) {
            self.workers = workers
            self.queues = queues
            self.paused = paused
            self.version = version
            self.pid = pid
            self.uptimeSeconds = uptimeSeconds
            self.total = total
            self.cpu = cpu
            self.io = io
            self.cpuLimit = cpuLimit
            self.ioLimit = ioLimit
            self.database = database
            self.finishedSinceStart = finishedSinceStart
        }

        enum CodingKeys: String, CodingKey {
            case version, pid, total, cpu, io, database, workers, queues, paused
            case uptimeSeconds = "uptime_seconds"
            case cpuLimit = "cpu_limit"
            case ioLimit = "io_limit"
            case finishedSinceStart = "finished_since_start"
        }
    }
}

/// How many jobs are in each state.
public struct StateCounts: Hashable, Sendable, Codable {
    public var scheduled = 0
    public var queued = 0
    public var running = 0
    public var succeeded = 0
    public var failed = 0
    public var dead = 0
    public var cancelled = 0

    public init() {}

    public subscript(state: JobState) -> Int {
        get {
            switch state {
            case .scheduled: scheduled
            case .queued: queued
            case .running: running
            case .succeeded: succeeded
            case .failed: failed
            case .dead: dead
            case .cancelled: cancelled
            }
        }
        set {
            switch state {
            case .scheduled: scheduled = newValue
            case .queued: queued = newValue
            case .running: running = newValue
            case .succeeded: succeeded = newValue
            case .failed: failed = newValue
            case .dead: dead = newValue
            case .cancelled: cancelled = newValue
            }
        }
    }
}

/// One CPU worker process, as `io.jobd.Status` reports it.
public struct WorkerInfo: Hashable, Sendable, Codable {
    /// 1-based; a replacement keeps the slot of the worker it replaced.
    public var slot: Int
    /// Absent while the slot's worker is being started.
    public var pid: Int32?
    /// `starting`, `idle`, `busy` or `retiring`.
    public var state: String
    /// The job it runs now.
    public var jobID: JobID?
    /// Jobs handed to it that wait behind the one it runs (they are `queued`, not running).
    public var queued: Int
    /// Jobs this process has run.
    public var jobsRun: Int
    public var rssBytes: Int64?

    public init(slot: Int, pid: Int32?, state: String, jobID: JobID?, queued: Int = 0, jobsRun: Int, rssBytes: Int64?) {
        self.queued = queued
        self.slot = slot
        self.pid = pid
        self.state = state
        self.jobID = jobID
        self.jobsRun = jobsRun
        self.rssBytes = rssBytes
    }

    enum CodingKeys: String, CodingKey {
        case slot, pid, state, queued
        case jobID = "job_id"
        case jobsRun = "jobs_run"
        case rssBytes = "rss_bytes"
    }

    // Absent values are sent as null, so `--json` always shows every field.
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(slot, forKey: .slot)
        try c.encode(pid, forKey: .pid)
        try c.encode(state, forKey: .state)
        try c.encode(jobID, forKey: .jobID)
        try c.encode(queued, forKey: .queued)
        try c.encode(jobsRun, forKey: .jobsRun)
        try c.encode(rssBytes, forKey: .rssBytes)
    }
}
