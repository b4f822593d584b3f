/// `io.jobd.Wait`: replies once every listed job has finished.
///
/// Repeated ids count once; at most ``JobLimits/maximumWaitIDs`` distinct ids. With `states_only`, the
/// reply is `states` (id, state, exit code per job), small whatever the jobs hold; otherwise `jobs`, whole
/// records, which the daemon refuses with `ReplyTooLarge` past its reply bound.
public enum Wait {
    public static let method = "io.jobd.Wait"

    public struct Parameters: Hashable, Sendable, Codable {
        public var ids: [JobID]
        /// Answer ``StatesReply`` (how each job ended) instead of whole jobs.
        public var statesOnly: Bool?

        public init(ids: [JobID], statesOnly: Bool? = nil) {
            self.ids = ids
            self.statesOnly = statesOnly
        }

        enum CodingKeys: String, CodingKey {
            case ids
            case statesOnly = "states_only"
        }
    }

    public struct Reply: Hashable, Sendable, Codable {
        /// The finished jobs, in the order of `ids` (a repeated id once, where it first appears).
        public var jobs: [Job]
        public init(jobs: [Job]) { self.jobs = jobs }
    }

    /// The reply to a Wait with `states_only`.
    public struct StatesReply: Hashable, Sendable, Codable {
        /// How each job ended, in the order of `ids` (a repeated id once, where it first appears).
        public var states: [JobEnd]
        public init(states: [JobEnd]) { self.states = states }
    }
}

/// How a job ended: what `jobctl wait` needs, and nothing of the job's (possibly large) description.
public struct JobEnd: Hashable, Sendable, Codable {
    public var id: JobID
    public var state: JobState
    /// The exit code of its last attempt, if it exited; null otherwise (always present on the wire).
    public var exitCode: Int?

    public init(id: JobID, state: JobState, exitCode: Int?) {
        self.id = id
        self.state = state
        self.exitCode = exitCode
    }

    public init(_ job: Job) {
        self.init(id: job.id, state: job.state, exitCode: job.exitCode)
    }

    enum CodingKeys: String, CodingKey {
        case id, state
        case exitCode = "exit_code"
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(id, forKey: .id)
        try container.encode(state, forKey: .state)
        try container.encode(exitCode, forKey: .exitCode)
    }
}
