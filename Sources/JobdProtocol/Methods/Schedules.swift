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

/// `io.jobd.Schedules`: the caller's schedules (root: everyone's), by owner and name, a page at a time.
public enum Schedules {
    public static let method = "io.jobd.Schedules"
    /// The page size when the caller names none, and the largest it may name: 100 schedules of the
    /// largest job (64 KiB) are a 6.4 MiB reply.
    public static let defaultLimit = 100
    public static let maximumLimit = 100

    public struct Parameters: Hashable, Sendable, Codable {
        /// Only schedules after this one (the previous page's `next`): `OWNER_UID/NAME`.
        public var after: String?
        /// At most this many (default and largest: 100).
        public var limit: Int?

        public init(after: String? = nil, limit: Int? = nil) {
            self.after = after
            self.limit = limit
        }
    }

    public struct Reply: Hashable, Sendable, Codable {
        public var schedules: [ScheduleInfo]
        /// Present when more follow: the `after` of the next page.
        public var next: String?
        public init(schedules: [ScheduleInfo], next: String? = nil) {
            self.schedules = schedules
            self.next = next
        }
    }

    /// The cursor of a schedule: its owner and name.
    public static func cursor(owner: UInt32, name: String) -> String { "\(owner)/\(name)" }

    /// A cursor's owner and name; nil when it is not one.
    public static func parse(cursor: String) -> (owner: UInt32, name: String)? {
        guard let slash = cursor.firstIndex(of: "/"), let owner = UInt32(cursor[..<slash]) else { return nil }
        return (owner, String(cursor[cursor.index(after: slash)...]))
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
