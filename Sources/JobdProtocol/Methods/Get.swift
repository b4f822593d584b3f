/// `io.jobd.Get`: one job, every field.
public enum Get {
    public static let method = "io.jobd.Get"

    public struct Parameters: Hashable, Sendable, Codable {
        public var id: JobID
        public init(id: JobID) { self.id = id }
    }

    public struct Reply: Hashable, Sendable, Codable {
        public var job: Job
        public init(job: Job) { self.job = job }
    }
}
