import JobdProtocol

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
    public var jobID: JobID?
    /// Jobs this process has run.
    public var jobsRun: Int
    public var rssBytes: Int64?
}
