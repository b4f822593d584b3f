/// One attempt of a job as `jobctl show` lists it: when it ran and, once it has ended, its outcome.
///
/// On the wire the outcome's fields sit beside `number`, `started_at` and `finished_at` in one object
/// (`exit_code`, `signal`, `error`, `wall_seconds`, …, as ``RunOutcome`` spells them); a running
/// attempt has none of them.
public struct AttemptRecord: Hashable, Sendable, Codable {
    /// 1 for the first attempt.
    public var number: Int
    public var startedAt: Timestamp?
    /// Nil while it runs.
    public var finishedAt: Timestamp?
    /// How it ended; nil while it runs (a handler's result is not repeated here: the job has it).
    public var outcome: RunOutcome?

    public init(number: Int, startedAt: Timestamp?, finishedAt: Timestamp?, outcome: RunOutcome?) {
        self.number = number
        self.startedAt = startedAt
        self.finishedAt = finishedAt
        self.outcome = outcome
    }

    enum CodingKeys: String, CodingKey {
        case number
        case startedAt = "started_at"
        case finishedAt = "finished_at"
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        number = try container.decode(Int.self, forKey: .number)
        startedAt = try container.decodeIfPresent(Timestamp.self, forKey: .startedAt)
        finishedAt = try container.decodeIfPresent(Timestamp.self, forKey: .finishedAt)
        // The outcome's keys are in the same object; a running attempt has none (no wall_seconds).
        outcome = try? RunOutcome(from: decoder)
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(number, forKey: .number)
        try container.encodeIfPresent(startedAt, forKey: .startedAt)
        try container.encodeIfPresent(finishedAt, forKey: .finishedAt)
        try outcome?.encode(to: encoder)
    }
}
