/// `io.jobd.Wait`: replies once every listed job has finished.
public enum Wait {
    public static let method = "io.jobd.Wait"

    public struct Parameters: Hashable, Sendable, Codable {
        public var ids: [JobID]
        public init(ids: [JobID]) { self.ids = ids }
    }

    public struct Reply: Hashable, Sendable, Codable {
        /// The finished jobs, in the order of `ids`.
        public var jobs: [Job]
        public init(jobs: [Job]) { self.jobs = jobs }
    }
}
