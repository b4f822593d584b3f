import JobdProtocol
import Synchronization

/// What a running handler may use: its job's id, a sink for output, and whether it should stop.
public final class HandlerContext: Sendable {
    public let jobID: JobID
    private let output: @Sendable ([UInt8]) -> Void
    private let opener: @Sendable (String) -> Result<Int32, HandlerError>
    private let cancelled = Atomic<Bool>(false)

    /// - Parameters:
    ///   - output: where `write` sends bytes: the job's log file in the daemon, an output frame in a worker.
    ///   - opener: opens a file for reading with the submitter's permissions (the runner knows how).
    public init(
        jobID: JobID, output: @escaping @Sendable ([UInt8]) -> Void,
        opener: @escaping @Sendable (String) -> Result<Int32, HandlerError>
    ) {
        self.jobID = jobID
        self.output = output
        self.opener = opener
    }

    /// Opens a file for reading as the job's submitter would: a root daemon never reads for a user a file
    /// that user could not read. Always open files through this; close the descriptor when done.
    public func openForReading(_ path: String) throws(HandlerError) -> Int32 {
        try opener(path).get()
    }

    /// Appends to the job's output (`jobctl logs`).
    public func write(_ text: String) {
        output(Array(text.utf8))
    }

    /// True once the attempt has been asked to stop. A blocking handler has no task to cancel: it reads
    /// this in its loop.
    public var isCancelled: Bool {
        cancelled.load(ordering: .relaxed) || Task.isCancelled
    }

    /// Asks the handler to stop; the runner calls it on cancel, timeout or shutdown.
    public func cancel() {
        cancelled.store(true, ordering: .relaxed)
    }
}
