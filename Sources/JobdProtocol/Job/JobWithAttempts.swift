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
    /// For a job waiting for others: those that have not succeeded yet (`waits_for`, absent otherwise).
    public var waitsFor: [JobID]?

    public init(job: Job, attempts: [AttemptRecord], waitsFor: [JobID]? = nil) {
        self.job = job
        self.attempts = attempts
        self.waitsFor = waitsFor
    }

    enum CodingKeys: String, CodingKey {
        case attempts = "attempt_records"
        case waitsFor = "waits_for"
    }

    public func encode(to encoder: any Encoder) throws {
        // The job's keys and these go into the same object (as AttemptRecord does with its outcome).
        try job.encode(to: encoder)
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(attempts, forKey: .attempts)
        try container.encodeIfPresent(waitsFor, forKey: .waitsFor)
    }
}
