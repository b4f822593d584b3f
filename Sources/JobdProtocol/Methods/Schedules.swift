/// How often a schedule fires: a five-field cron expression (local time), or a fixed period.
public enum Recurrence: Hashable, Sendable {
    case cron(String)
    case every(seconds: Double)
}

/// A recurring job as `jobctl schedule list` shows it.
public struct ScheduleInfo: Hashable, Sendable, Codable {
    public var name: String
    public var ownerUID: UInt32
    /// Exactly one of `cron` and `everySeconds` is set.
    public var cron: String?
    public var everySeconds: Double?
    /// After jobd was down over one or more due times: true runs the job once at start-up, false skips them.
    public var catchUp: Bool
    public var nextDue: Timestamp
    public var lastFired: Timestamp?
    public var lastJobID: JobID?
    public var job: JobSpec

    public init(
        name: String, ownerUID: UInt32, cron: String?, everySeconds: Double?, catchUp: Bool, nextDue: Timestamp,
        lastFired: Timestamp?, lastJobID: JobID?, job: JobSpec
    ) {
        self.name = name
        self.ownerUID = ownerUID
        self.cron = cron
        self.everySeconds = everySeconds
        self.catchUp = catchUp
        self.nextDue = nextDue
        self.lastFired = lastFired
        self.lastJobID = lastJobID
        self.job = job
    }

    public var recurrence: Recurrence { cron.map(Recurrence.cron) ?? .every(seconds: everySeconds ?? 0) }

    enum CodingKeys: String, CodingKey {
        case name, cron, job
        case ownerUID = "owner_uid"
        case everySeconds = "every_seconds"
        case catchUp = "catch_up"
        case nextDue = "next_due"
        case lastFired = "last_fired"
        case lastJobID = "last_job_id"
    }
}

/// `io.jobd.AddSchedule`: submit `job` at every due time of `cron` or every `every_seconds`, as the
/// caller. A schedule of the same name (the caller's) is replaced.
public enum AddSchedule {
    public static let method = "io.jobd.AddSchedule"

    public struct Parameters: Hashable, Sendable, Codable {
        /// 1 to 64 bytes of `[A-Za-z0-9._-]`.
        public var name: String
        public var cron: String?
        /// At least 1 s, at most a year.
        public var everySeconds: Double?
        public var catchUp: Bool?
        public var job: JobSpec

        public init(name: String, cron: String? = nil, everySeconds: Double? = nil, catchUp: Bool? = nil, job: JobSpec) {
            self.name = name
            self.cron = cron
            self.everySeconds = everySeconds
            self.catchUp = catchUp
            self.job = job
        }

        enum CodingKeys: String, CodingKey {
            case name, cron, job
            case everySeconds = "every_seconds"
            case catchUp = "catch_up"
        }
    }

    public struct Reply: Hashable, Sendable, Codable {
        public var schedule: ScheduleInfo
        public init(schedule: ScheduleInfo) { self.schedule = schedule }
    }
}

/// `io.jobd.Schedules`: the caller's schedules (root: everyone's), by name.
public enum Schedules {
    public static let method = "io.jobd.Schedules"
    public typealias Parameters = Empty

    public struct Reply: Hashable, Sendable, Codable {
        public var schedules: [ScheduleInfo]
        public init(schedules: [ScheduleInfo]) { self.schedules = schedules }
    }
}

/// `io.jobd.RemoveSchedule`: the caller's schedule of that name stops firing; jobs it submitted stay.
public enum RemoveSchedule {
    public static let method = "io.jobd.RemoveSchedule"

    public struct Parameters: Hashable, Sendable, Codable {
        public var name: String
        public init(name: String) { self.name = name }
    }

    public typealias Reply = Empty
}
