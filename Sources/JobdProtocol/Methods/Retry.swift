/// `io.jobd.Retry`: a job that ended failed, dead or cancelled is queued again for one more attempt;
/// its earlier attempts stay in its history (`Attempts`).
public enum Retry {
    public static let method = "io.jobd.Retry"

    public typealias Parameters = JobIDParameters

    public struct Reply: Hashable, Sendable, Codable {
        /// The job, queued again.
        public var job: Job
        public init(job: Job) { self.job = job }
    }
}

/// `io.jobd.Attempts`: every attempt of a job, first to latest, as `jobctl show` lists them.
public enum Attempts {
    public static let method = "io.jobd.Attempts"

    public typealias Parameters = JobIDParameters

    public struct Reply: Hashable, Sendable, Codable {
        public var attempts: [AttemptRecord]
        public init(attempts: [AttemptRecord]) { self.attempts = attempts }
    }
}
