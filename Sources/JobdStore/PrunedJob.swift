import JobdProtocol

/// A finished job that a prune deleted: what the daemon needs to take it out of its kept counts and to
/// remove its log file.
public struct PrunedJob: Hashable, Sendable {
    public var id: JobID
    public var `class`: JobClass
    /// The finished state it was in (succeeded, failed, dead or cancelled).
    public var state: JobState

    public init(id: JobID, class jobClass: JobClass, state: JobState) {
        self.id = id
        self.class = jobClass
        self.state = state
    }
}
