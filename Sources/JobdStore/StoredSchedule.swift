import JobdProtocol

/// A recurring job as the store keeps it (migration 0011).
///
/// The daemon keeps every schedule's timing in memory, and its job only in the database (`spec` nil):
/// 1,000 schedules of one user with 50 KB jobs held 265 MB, and again after a restart (found in review,
/// issue 18). The job is read when the schedule fires or is listed.
public struct StoredSchedule: Hashable, Sendable {
    public var ownerUID: UInt32
    public var ownerGID: UInt32
    public var name: String
    /// Exactly one of `cron` and `everySeconds` is set.
    public var cron: String?
    public var everySeconds: Double?
    /// Its job; nil when only its timing was read.
    public var spec: JobSpec?
    public var catchUp: Bool
    public var nextDue: Timestamp
    public var lastFired: Timestamp?
    public var lastJobID: JobID?

    public init(
        ownerUID: UInt32, ownerGID: UInt32, name: String, cron: String?, everySeconds: Double?, spec: JobSpec?,
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

    /// As `jobctl schedule list` shows it (its job read).
    public var info: ScheduleInfo {
        ScheduleInfo(
            name: name, ownerUID: ownerUID, cron: cron, everySeconds: everySeconds, catchUp: catchUp, nextDue: nextDue,
            lastFired: lastFired, lastJobID: lastJobID, job: spec ?? JobSpec())
    }

    /// Its timing alone, as the daemon keeps it in memory.
    public var timing: StoredSchedule {
        var timing = self
        timing.spec = nil
        return timing
    }
}
