import JobdProtocol

/// A recurring job as the store keeps it (migration 0011).
public struct StoredSchedule: Hashable, Sendable {
    public var ownerUID: UInt32
    public var ownerGID: UInt32
    public var name: String
    /// Exactly one of `cron` and `everySeconds` is set.
    public var cron: String?
    public var everySeconds: Double?
    public var spec: JobSpec
    public var catchUp: Bool
    public var nextDue: Timestamp
    public var lastFired: Timestamp?
    public var lastJobID: JobID?

    public init(
        ownerUID: UInt32, ownerGID: UInt32, name: String, cron: String?, everySeconds: Double?, spec: JobSpec,
        catchUp: Bool, nextDue: Timestamp, lastFired: Timestamp? = nil, lastJobID: JobID? = nil
    ) {
        self.ownerUID = ownerUID
        self.ownerGID = ownerGID
        self.name = name
        self.cron = cron
        self.everySeconds = everySeconds
        self.spec = spec
        self.catchUp = catchUp
        self.nextDue = nextDue
        self.lastFired = lastFired
        self.lastJobID = lastJobID
    }

    /// As `jobctl schedule list` shows it.
    public var info: ScheduleInfo {
        ScheduleInfo(
            name: name, ownerUID: ownerUID, cron: cron, everySeconds: everySeconds, catchUp: catchUp, nextDue: nextDue,
            lastFired: lastFired, lastJobID: lastJobID, job: spec)
    }
}
