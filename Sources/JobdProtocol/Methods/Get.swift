/// `io.jobd.Get`: one job, every field.
public enum Get {
    public static let method = "io.jobd.Get"

    public typealias Parameters = JobIDParameters

    public struct Reply: Hashable, Sendable, Codable {
        public var job: Job
        /// The jobs it still waits for (`after`), those that have not succeeded yet; absent when none.
        public var waitsFor: [JobID]?

        public init(job: Job, waitsFor: [JobID]? = nil) {
            self.job = job
            self.waitsFor = waitsFor
        }

        enum CodingKeys: String, CodingKey {
            case job
            case waitsFor = "waits_for"
        }
    }
}
