/// A job and every attempt of it, as one JSON object: what `jobctl show --json` prints, and what an
/// on-finish hook reads on its stdin.
///
/// The object is the job's own (every key of ``Job``, unchanged, so scripts that read `show --json` go on
/// working) with one key more, `attempt_records`: the attempts first to latest, each as `io.jobd.Attempts`
/// encodes it (``AttemptRecord``). Not `attempts`: that key is the job's count of attempts started, and
/// scripts read it as a number.
public struct JobWithAttempts: Sendable, Encodable {
    public var job: Job
    public var attempts: [AttemptRecord]

    public init(job: Job, attempts: [AttemptRecord]) {
        self.job = job
        self.attempts = attempts
    }

    enum CodingKeys: String, CodingKey {
        case attempts = "attempt_records"
    }

    public func encode(to encoder: any Encoder) throws {
        // The job's keys and this one go into the same object (as AttemptRecord does with its outcome).
        try job.encode(to: encoder)
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(attempts, forKey: .attempts)
    }
}
