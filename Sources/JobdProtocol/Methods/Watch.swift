/// `io.jobd.Watch`: with `more`, a stream: a reply at once and another whenever jobs change (at most four
/// a second), each the status and the most recent job transitions the caller may see. `jobctl watch`
/// draws its live view from it. Without `more`, one reply.
public enum Watch {
    public static let method = "io.jobd.Watch"
    public typealias Parameters = Empty
    /// The window `throughput` is measured over.
    public static let throughputWindowSeconds = 10
    /// With nothing changing, a frame still comes this often (its uptime moves).
    public static let quietFrameInterval = Duration.seconds(5)

    public struct Reply: Hashable, Sendable, Codable {
        public var status: Status.Reply
        /// Newest first: the caller's own jobs (root: everyone's).
        public var recent: [JobTransition]
        /// Jobs finished per second over the last ``Watch/throughputWindowSeconds`` this stream has run
        /// (all users' jobs, like `finished_since_start`); absent in the first reply.
        public var throughput: Double?

        public init(status: Status.Reply, recent: [JobTransition], throughput: Double? = nil) {
            self.status = status
            self.recent = recent
            self.throughput = throughput
        }
    }
}

/// A job moving to a state, as `jobctl watch` lists it.
public struct JobTransition: Hashable, Sendable, Codable {
    public var id: JobID
    public var state: JobState
    public var `class`: JobClass
    public var at: Timestamp

    public init(id: JobID, state: JobState, class: JobClass, at: Timestamp) {
        self.id = id
        self.state = state
        self.class = `class`
        self.at = at
    }
}
