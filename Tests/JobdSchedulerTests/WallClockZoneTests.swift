import Glibc
import JobdScheduler
import Testing

/// The core's zones: UTC by arithmetic agrees with libc, and a cron search across a clock change does
/// what CronExpression's documentation promises, in a zone drawn here rather than the machine's.
struct WallClockZoneTests {
    @Test func utcAgreesWithLibcBothWays() {
        var instant: Int64 = -2_208_988_800  // 1900-01-01
        var checked = 0
        // Whole minutes, a prime number of them apart, through leap years and century rules, to 2200.
        while instant < 7_258_118_400 {
            var seconds = time_t(instant)
            var broken = tm()
            gmtime_r(&seconds, &broken)
            let wall = UTCZone().wallClock(at: instant)
            #expect(
                [wall.year, wall.month, wall.day, wall.hour, wall.minute, wall.weekday]
                    == [Int(broken.tm_year) + 1900, Int(broken.tm_mon) + 1, Int(broken.tm_mday), Int(broken.tm_hour),
                        Int(broken.tm_min), Int(broken.tm_wday)], "at \(instant)")
            #expect(UTCZone().instant(of: wall) == instant, "whole minutes map back to themselves")
            instant += 60 * 10_007
            checked += 1
        }
        #expect(checked > 15_000)
    }

    @Test func fieldsPastTheirRangeCarryOverAsMktimeDoes() {
        let utc = UTCZone()
        let base = utc.instant(of: WallClockTime(year: 2026, month: 12, day: 31, hour: 23, minute: 59))
        #expect(utc.instant(of: WallClockTime(year: 2026, month: 13, day: 1, hour: 0, minute: 0)) == base + 60)
        #expect(utc.instant(of: WallClockTime(year: 2026, month: 12, day: 32, hour: 0, minute: 0)) == base + 60)
        #expect(utc.instant(of: WallClockTime(year: 2026, month: 12, day: 31, hour: 24, minute: 0)) == base + 60)
        #expect(utc.instant(of: WallClockTime(year: 2026, month: 12, day: 31, hour: 23, minute: 60)) == base + 60)
        #expect(utc.instant(of: WallClockTime(year: 2028, month: 2, day: 30, hour: 0, minute: 0))
                == utc.instant(of: WallClockTime(year: 2028, month: 3, day: 1, hour: 0, minute: 0)))
    }

    /// 29 March 2026 01:00 UTC: a zone one hour ahead of UTC goes to two (02:00 becomes 03:00).
    static let spring = Int64(1_774_746_000)
    /// 25 October 2026 01:00 UTC: two hours ahead goes back to one (03:00 becomes 02:00 again).
    static let autumn = Int64(1_792_890_000)

    @Test func aTimeTheSpringChangeSkipsDoesNotFireThatDay() throws {
        let zone = ZoneWithOneChange(at: Self.spring, offsetBefore: 3600, offsetAfter: 7200)
        let cron = try CronExpression("30 2 * * *")
        let next = try #require(cron.next(after: Self.spring - 3600, in: zone))
        let wall = zone.wallClock(at: next)
        #expect([wall.month, wall.day, wall.hour, wall.minute] == [3, 30, 2, 30], "the 29th has no 02:30: the 30th's")
        let other = try #require(try CronExpression("30 3 * * *").next(after: Self.spring - 3600, in: zone))
        #expect(other == Self.spring + 1800, "03:30 on the 29th fires, half an hour after the change")
    }

    @Test func aTimeTheAutumnChangeRepeatsFiresOnce() throws {
        let zone = ZoneWithOneChange(at: Self.autumn, offsetBefore: 7200, offsetAfter: 3600)
        let cron = try CronExpression("30 2 * * *")
        // 02:30 happens at 00:30 UTC (before the change) and again at 01:30 UTC (after it).
        let first = try #require(cron.next(after: Self.autumn - 7200, in: zone))
        #expect(first == Self.autumn - 1800)
        let second = try #require(cron.next(after: first, in: zone))
        let wall = zone.wallClock(at: second)
        #expect([wall.month, wall.day, wall.hour, wall.minute] == [10, 26, 2, 30], "not again an hour later: the next day")
    }
}

/// A zone with one clock change: `offsetBefore` seconds ahead of UTC before `at`, `offsetAfter` from it
/// on. A wall time the change skips maps with the offset before (later than asked, as mktime does); one
/// it repeats, to its first occurrence.
private struct ZoneWithOneChange: WallClockZone {
    let at: Int64
    let offsetBefore: Int64
    let offsetAfter: Int64

    func wallClock(at instant: Int64) -> WallClockTime {
        UTCZone().wallClock(at: instant + (instant < at ? offsetBefore : offsetAfter))
    }

    func instant(of wall: WallClockTime) -> Int64 {
        let asUTC = UTCZone().instant(of: wall)
        if asUTC - offsetBefore < at { return asUTC - offsetBefore }
        return asUTC - offsetAfter >= at ? asUTC - offsetAfter : asUTC - offsetBefore
    }
}
