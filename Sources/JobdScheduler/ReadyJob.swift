import JobdProtocol

/// What the scheduler knows of a job waiting to run: enough to order it, nothing to run it.
public struct ReadyJob: Hashable, Sendable {
    public var id: JobID
    public var `class`: JobClass
    public var priority: Int
    public var queue: QueueID

    public init(id: JobID, class: JobClass, priority: Int = 0, queue: QueueID = .default) {
        self.id = id
        self.class = `class`
        self.priority = priority
        self.queue = queue
    }
}

/// Heap order: the maximum is the job to run next — highest priority, then oldest (lowest id).
struct ReadyEntry: Comparable {
    var job: ReadyJob

    static func < (lhs: ReadyEntry, rhs: ReadyEntry) -> Bool {
        if lhs.job.priority != rhs.job.priority { return lhs.job.priority < rhs.job.priority }
        return lhs.job.id > rhs.job.id
    }

    static func == (lhs: ReadyEntry, rhs: ReadyEntry) -> Bool { lhs.job.id == rhs.job.id }
}
