/// `io.jobd.Cancel`: a waiting job ends `cancelled` at once; a running one has its process group killed
/// (SIGTERM, then SIGKILL after a grace period) and ends `cancelled` when it is gone.
public enum Cancel {
    public static let method = "io.jobd.Cancel"

    public typealias Parameters = JobIDParameters

    public struct Reply: Hashable, Sendable, Codable {
        /// The job after the cancel took effect (`cancelled`).
        public var job: Job
        public init(job: Job) { self.job = job }
    }
}
