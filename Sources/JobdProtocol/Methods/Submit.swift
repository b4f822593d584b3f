/// `io.jobd.Submit`: store one or more jobs; the reply comes after they are committed.
public enum Submit {
    public static let method = "io.jobd.Submit"

    public struct Parameters: Hashable, Sendable, Codable {
        /// Stored all together, or (on any invalid one) not at all.
        public var jobs: [JobSpec]
        public init(jobs: [JobSpec]) { self.jobs = jobs }
    }

    public struct Reply: Hashable, Sendable, Codable {
        /// The jobs' ids, in the order of `jobs`.
        public var ids: [JobID]
        /// Those of `ids` that were already there: an unfinished job of the caller held the job's
        /// `unique_key`, so nothing new was stored for it. Absent when every job is new.
        public var existing: [JobID]?

        public init(ids: [JobID], existing: [JobID]? = nil) {
            self.ids = ids
            self.existing = existing
        }
    }
}
