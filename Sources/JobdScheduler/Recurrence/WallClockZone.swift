import JobdProtocol

/// A wall-clock time, to the minute: what a cron expression's fields are matched against.
public struct WallClockTime: Hashable, Sendable {
    public var year: Int
    /// 1 … 12.
    public var month: Int
    /// 1 … 31.
    public var day: Int
    public var hour: Int
    public var minute: Int
    /// 0 = Sunday … 6 = Saturday (ignored by ``WallClockZone/instant(of:)``).
    public var weekday: Int

    public init(year: Int, month: Int, day: Int, hour: Int, minute: Int, weekday: Int = 0) {
        (self.year, self.month, self.day, self.hour, self.minute, self.weekday) = (year, month, day, hour, minute, weekday)
    }

    /// Year, month, day, hour, minute: ordered as wall clocks are.
    var ordered: [Int] { [year, month, day, hour, minute] }
}

/// How a time zone turns instants into wall-clock times and back: all a cron search needs of one. The
/// core computes no zone from the system: UTC is arithmetic (``UTCZone``), the system's local zone (TZ,
/// /etc/localtime) is libc's and given by the daemon, and a test draws a zone with a clock change.
public protocol WallClockZone: Sendable {
    /// The wall-clock time at `instant` (seconds since the epoch).
    func wallClock(at instant: Int64) -> WallClockTime
    /// The instant a wall-clock time happens. Fields past their range carry over as `mktime` does
    /// (month 13 is January of the next year, day 32 the next month's first, hour 24 the next day); a
    /// time a clock change skips maps to an instant whose wall clock is later than asked.
    func instant(of wall: WallClockTime) -> Int64
}

/// Coordinated Universal Time, by the civil-calendar arithmetic of ``Timestamp`` (the proleptic Gregorian
/// calendar).
public struct UTCZone: WallClockZone {
    public init() {}

    public func wallClock(at instant: Int64) -> WallClockTime {
        let days = Self.floorDivision(instant, 86_400)
        let seconds = Int(instant - days * 86_400)
        let (year, month, day) = Timestamp.civil(fromDays: days)
        // 1 January 1970 was a Thursday (4).
        let weekday = Int(Self.floorModulo(days + 4, 7))
        return WallClockTime(
            year: Int(year), month: Int(month), day: Int(day), hour: seconds / 3600, minute: seconds / 60 % 60,
            weekday: weekday)
    }

    public func instant(of wall: WallClockTime) -> Int64 {
        // Months past December carry into the year; days, hours and minutes past their range carry as plain
        // counts from the month's first.
        let months = Int64(wall.year) * 12 + Int64(wall.month - 1)
        let (year, month) = (Self.floorDivision(months, 12), Self.floorModulo(months, 12) + 1)
        let days = Timestamp.days(fromCivil: year, month, 1) + Int64(wall.day - 1)
        return days * 86_400 + Int64(wall.hour) * 3600 + Int64(wall.minute) * 60
    }

    private static func floorDivision(_ a: Int64, _ b: Int64) -> Int64 {
        let quotient = a / b
        return (a % b != 0 && (a < 0) != (b < 0)) ? quotient - 1 : quotient
    }

    private static func floorModulo(_ a: Int64, _ b: Int64) -> Int64 { a - floorDivision(a, b) * b }
}
