/// `io.jobd.Get`: one job, every field.
public enum Get {
    public static let method = "io.jobd.Get"

    public typealias Parameters = JobIDParameters

    public struct Reply: Hashable, Sendable, Codable {
        public var job: Job
        public init(job: Job) { self.job = job }
    }
}
