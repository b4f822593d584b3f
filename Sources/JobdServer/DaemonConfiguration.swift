import JobdRunners
import JobdScheduler
import JobdProtocol
import JobdStore
import Logging

/// Reads the configuration again (the same file and flags), for a reload on SIGHUP.
/// - Throws: what is wrong with the file; the running configuration then stays.
public typealias ConfigurationLoader = @Sendable () throws -> DaemonConfiguration

/// Everything the daemon is told at start-up (flags today; the TOML file later).
public struct DaemonConfiguration: Sendable {
    public var socketPath: String
    /// The listening socket systemd passed (socket activation, ``SocketActivation``); nil: bind `socketPath`.
    /// A socket systemd passed belongs to systemd: jobd neither chmods nor removes its file.
    public var inheritedSocket: Int32?
    public var databasePath: String
    /// Where each job's captured output goes: `<directory of the database>/logs/<id>.log`.
    public var logsDirectory: String
    /// The process ledger: one entry per running job's process group (``ProcessLedger``), beside the logs.
    public var processesDirectory: String
    public var durability: SQLiteStore.Durability
    /// CPU-class jobs that may run at once.
    public var cpuSlots: Int
    /// I/O-class jobs that may run at once.
    public var ioConcurrency: Int
    /// CPU-class jobs handed to a worker while it still runs its previous one, per worker
    /// (docs/WORKERS.md); 0 hands a worker one job at a time.
    public var cpuQueuedPerWorker = WorkerPool.queuedPerWorker
    /// A shell command line run, as a job of the daemon's user, whenever a job ends (its JSON on stdin).
    public var onFinish: String?
    /// The largest varlink message accepted; a larger one closes its connection.
    public var maximumMessageBytes: Int
    /// The largest reply sent, in bytes (`jobd --max-reply-bytes`): a List page ends early before it; any
    /// other reply that would pass it is replaced by `io.jobd.ReplyTooLarge`. 64 MiB holds a Wait for
    /// 20,000 ordinary jobs, and keeps one call from making the daemon build gigabytes.
    public var maximumReplyBytes: Int = DaemonConfiguration.defaultMaximumReplyBytes
    public static let defaultMaximumReplyBytes = 64 << 20
    /// The smallest `--max-reply-bytes` accepted: a Logs reply carries up to 256 KiB, a job up to ~1 MiB.
    public static let minimumMaximumReplyBytes = 1 << 20
    /// Connections held at once, all users together (`jobd --max-connections`); one more gets
    /// `io.jobd.TooManyConnections` and is closed.
    public var maximumConnections = DaemonConfiguration.defaultMaximumConnections
    public static let defaultMaximumConnections = 4096
    /// Connections one uid may hold at once (`jobd --max-connections-per-user`): no user can take them all.
    public var maximumConnectionsPerUser = DaemonConfiguration.defaultMaximumConnectionsPerUser
    public static let defaultMaximumConnectionsPerUser = 256
    /// How long a message may stall half-sent before its connection is closed (`jobd --frame-timeout`).
    /// Idle connections between messages are never closed.
    public var frameTimeout = DaemonConfiguration.defaultFrameTimeout
    public static let defaultFrameTimeout = Duration.seconds(10)
    /// Captured output kept per job; the rest is dropped.
    public var outputLimitBytes: Int64
    /// Finished jobs and their logs are deleted this many seconds after they finished (`jobd --retention`);
    /// 0 keeps them forever.
    public var retentionSeconds: Double = DaemonConfiguration.defaultRetentionSeconds
    /// A week: long enough to look into last weekend's failures, short enough that the database and the
    /// logs directory stop growing.
    public static let defaultRetentionSeconds: Double = 7 * 86_400
    /// The defaults of jobd's flags, here once (the flags and the configuration file take them from here).
    public static let defaultIOConcurrency = 1024
    /// The most `--io-concurrency` takes (``Limits/maximumSlots``).
    public static let maximumIOConcurrency = Limits.maximumSlots
    public static let defaultOutputLimitBytes: Int64 = 16 << 20
    public static let defaultKillGrace = Duration.seconds(5)
    public static let defaultShutdownGrace = Duration.seconds(10)
    /// Between SIGTERM and SIGKILL when a job is cancelled, times out or is stopped at shutdown.
    public var killGrace: Duration
    /// At SIGTERM, how long running jobs may finish before they are stopped and requeued.
    public var shutdownGrace: Duration
    /// The command that starts one CPU worker: this very executable in its `worker` mode.
    public var workerCommand: [String] = ["/proc/self/exe", "worker"]
    /// The class of a job no other rule decides.
    public var defaultClass: JobClass = .cpu
    /// Where a signature switches class (DESIGN §3).
    public var thresholds = ClassThresholds()
    /// An I/O-class job that burns CPU above the upper threshold over this much wall time has its
    /// signature switched to `cpu` while it runs.
    public var reclassifyAfter: Duration = .seconds(5)
    /// Retire a worker after this many jobs; nil: never.
    public var workerMaxJobs: Int?
    /// Retire a worker whose resident set passed this many bytes; nil: never.
    public var workerMaxRSSBytes: Int64?
    /// What the daemon logs.
    public var logLevel: Logger.Level = .info

    public init(
        socketPath: String, databasePath: String, logsDirectory: String? = nil,
        durability: SQLiteStore.Durability = .normal, cpuSlots: Int, ioConcurrency: Int = defaultIOConcurrency,
        maximumMessageBytes: Int = SocketLocation.defaultMaximumMessageBytes,
        outputLimitBytes: Int64 = defaultOutputLimitBytes, killGrace: Duration = defaultKillGrace,
        shutdownGrace: Duration = defaultShutdownGrace
    ) {
        self.socketPath = socketPath
        self.databasePath = databasePath
        let directory = databasePath.split(separator: "/", omittingEmptySubsequences: false).dropLast()
            .joined(separator: "/")
        self.logsDirectory = logsDirectory ?? ((directory.isEmpty ? "." : directory) + "/logs")
        self.processesDirectory = (directory.isEmpty ? "." : directory) + "/processes"
        self.durability = durability
        self.cpuSlots = cpuSlots
        self.ioConcurrency = ioConcurrency
        self.maximumMessageBytes = maximumMessageBytes
        self.outputLimitBytes = outputLimitBytes
        self.killGrace = killGrace
        self.shutdownGrace = shutdownGrace
    }

    /// The scheduler's limits for this configuration.
    public var limits: Limits {
        Limits(
            cpuSlots: max(1, cpuSlots), ioSlots: max(1, ioConcurrency),
            cpuPrefetch: max(1, cpuSlots) * max(0, cpuQueuedPerWorker))
    }
}
