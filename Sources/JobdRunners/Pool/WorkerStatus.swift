import JobdProtocol

/// The CPU pool as `status` shows it.
public struct PoolStatus: Hashable, Sendable {
    public var workers: [WorkerStatus]
    /// Jobs the pool holds that have not begun to execute: queued in a worker behind the job it runs, or
    /// waiting for a worker. The dispatcher handed them over (its count has them running); they are shown
    /// queued, since no process of theirs runs (issue 18).
    public var notExecuting: Int

    /// Jobs executing in workers now (those of workers above a lowered `cpu-workers` included); nil where
    /// no pool counts them (a test's fake).
    public var executing: Int?

    public init(workers: [WorkerStatus], notExecuting: Int = 0, executing: Int? = nil) {
        self.workers = workers
        self.notExecuting = notExecuting
        self.executing = executing
    }
}

/// One worker as `status` shows it.
public struct WorkerStatus: Hashable, Sendable {
    public enum State: String, Sendable {
        /// No process: the pool stopped its workers after ``WorkerPoolConfiguration/idleRetirement``
        /// without a CPU job; the next one starts them again.
        case stopped
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
    /// The job it executes now.
    public var jobID: JobID?
    /// Jobs handed to it that wait behind the one it executes.
    public var queued: Int = 0
    /// Jobs this process has run.
    public var jobsRun: Int
    public var rssBytes: Int64?
}
