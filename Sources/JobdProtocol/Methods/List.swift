/// `io.jobd.List`: jobs, newest first, a page at a time.
public enum List {
    public static let method = "io.jobd.List"
    /// The page size when the caller names none, and the largest it may name.
    public static let defaultLimit = 100
    public static let maximumLimit = 10_000

    public struct Parameters: Hashable, Sendable, Codable {
        /// Only jobs in one of these states; all states when absent.
        public var states: [JobState]?
        /// Only jobs of this queue.
        public var queue: String?
        /// Only jobs older than this id: pass the previous page's `next_before_id`.
        public var beforeID: JobID?
        /// At most this many jobs (default 100, at most 10,000).
        public var limit: Int?

        public init(states: [JobState]? = nil, queue: String? = nil, beforeID: JobID? = nil, limit: Int? = nil) {
            self.states = states
            self.queue = queue
            self.beforeID = beforeID
            self.limit = limit
        }

        enum CodingKeys: String, CodingKey {
            case states, queue, limit
            case beforeID = "before_id"
        }
    }

    public struct Reply: Hashable, Sendable, Codable {
        public var jobs: [Job]
        /// Present when more jobs match: the `before_id` of the next page.
        public var nextBeforeID: JobID?

        public init(jobs: [Job], nextBeforeID: JobID?) {
            self.jobs = jobs
            self.nextBeforeID = nextBeforeID
        }

        enum CodingKeys: String, CodingKey {
            case jobs
            case nextBeforeID = "next_before_id"
        }
    }
}
