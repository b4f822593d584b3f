import JobdProtocol

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
    /// How long a stopped job has to end before the worker (and the job's process group) is killed, as it
    /// is when the stop comes; a worker is started with the value of the moment (`--kill-grace`).
    public var killGrace: Setting<Duration>
    /// Workers stop once the pool has had no CPU job for this long, and start again with the next one; nil:
    /// they stay. (An idle worker is 2.3 MB private, 25 MB resident counting the
    /// binary's pages it shares with the daemon; starting one takes about 10 ms.)
    public var idleRetirement: Duration?
    /// The largest frame the daemon accepts from a worker; a worker that sends a larger one is killed and
    /// its job fails. Lowered only by tests (`JOBD_TEST_WORKER_FRAME_LIMIT`), to reach that path cheaply.
    public var maximumInboundFrameBytes: Int

    public init(
        size: Int, executable: String, arguments: [String], environment: [String: String], maxJobs: Int?,
        maxRSSBytes: Int64?, killGrace: Setting<Duration>, idleRetirement: Duration? = .seconds(60),
        maximumInboundFrameBytes: Int? = nil
    ) {
        // Tests shorten it (`JOBD_TEST_WORKER_IDLE_SECONDS`) to see workers stop without waiting a minute.
        self.idleRetirement =
            environment["JOBD_TEST_WORKER_IDLE_SECONDS"].flatMap { Double($0) }.map { Duration.seconds($0) }
            ?? idleRetirement
        self.size = size
        self.executable = executable
        self.arguments = arguments
        self.environment = environment
        self.maxJobs = maxJobs
        self.maxRSSBytes = maxRSSBytes
        self.killGrace = killGrace
        self.maximumInboundFrameBytes =
            maximumInboundFrameBytes
            ?? environment["JOBD_TEST_WORKER_FRAME_LIMIT"].flatMap { Int($0) } ?? WorkerFraming.maximumFrameBytes
    }
}
