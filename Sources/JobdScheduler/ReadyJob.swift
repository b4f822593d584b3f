import JobdProtocol

/// What the scheduler knows of a job waiting to run: enough to order it, nothing to run it.
///
/// Small on purpose (24 bytes; the fields in this order pack best, and Swift keeps declaration order): a
/// million queued jobs are a million of these in the ready heaps (issue 9).
public struct ReadyJob: Hashable, Sendable {
    public var id: JobID
    /// When it fell due: ties of priority go to the earlier.
    public var due: DueTime
    /// Narrowed from the job's `Int`: ``JobLimits/priorityRange`` is far inside 32 bits.
    public var priority: Int32
    public var queue: QueueID
    public var `class`: JobClass

    /// - Parameter priority: clamped to 32 bits (a stored row is range-checked already; clamping keeps a
    ///   corrupt one from trapping).
    public init(id: JobID, class: JobClass, priority: Int = 0, queue: QueueID = .default, due: DueTime = .epoch) {
        self.id = id
        self.due = due
        self.priority = Int32(clamping: priority)
        self.queue = queue
        self.class = `class`
    }
}

/// Heap order: the maximum is the job to run next — highest priority, then the earliest due, then the
/// lowest id.
struct ReadyEntry: Comparable {
    var job: ReadyJob

    static func < (lhs: ReadyEntry, rhs: ReadyEntry) -> Bool {
        if lhs.job.priority != rhs.job.priority { return lhs.job.priority < rhs.job.priority }
        if lhs.job.due != rhs.job.due { return lhs.job.due > rhs.job.due }
        return lhs.job.id > rhs.job.id
    }

    static func == (lhs: ReadyEntry, rhs: ReadyEntry) -> Bool { lhs.job.id == rhs.job.id }
}
