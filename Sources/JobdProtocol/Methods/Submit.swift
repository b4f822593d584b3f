/// `io.jobd.Submit`: store one or more jobs; the reply comes after they are committed.
public enum Submit {
    public static let method = "io.jobd.Submit"

    public struct Parameters: Hashable, Sendable, Codable {
        /// Stored all together, or (on any invalid one) not at all.
        public var jobs: [JobSpec]
        public init(jobs: [JobSpec]) { self.jobs = jobs }
    }

    public struct Reply: Hashable, Sendable, Codable {
        /// The new ids, in the order of `jobs`.
        public var ids: [JobID]
        public init(ids: [JobID]) { self.ids = ids }
    }
}
