/// `io.jobd.Prune`: deletes finished jobs and their logs now, instead of waiting for the retention period.
/// A user prunes only their own jobs; root prunes everyone's.
public enum Prune {
    public static let method = "io.jobd.Prune"

    public struct Parameters: Hashable, Sendable, Codable {
        /// Only jobs that finished at least this many seconds ago; absent or 0: every finished job.
        /// Finite and at least 0.
        public var olderThanSeconds: Double?
        /// Only jobs in one of these states, each a finished one; absent: all four finished states.
        public var states: [JobState]?

        public init(olderThanSeconds: Double? = nil, states: [JobState]? = nil) {
            self.olderThanSeconds = olderThanSeconds
            self.states = states
        }

        enum CodingKeys: String, CodingKey {
            case states
            case olderThanSeconds = "older_than_seconds"
        }
    }

    public struct Reply: Hashable, Sendable, Codable {
        /// How many jobs were deleted.
        public var pruned: Int
        public init(pruned: Int) { self.pruned = pruned }
    }
}
