import JobdScheduler
import Testing

/// The five-field parser and its next-time search, against a table worked out by hand (UTC, so the
/// machine's zone does not matter). Wednesday 2026-11-25 10:17:30 UTC is 1_795_601_850.
struct CronExpressionTests {
    static let wednesday = Int64(1_795_601_850)

    @Test(arguments: [
        ("* * * * *", wednesday, Int64(1_795_601_880)),  // the next whole minute
        ("0 3 * * *", wednesday, 1_795_662_000),  // Thursday 03:00
        ("*/15 * * * *", wednesday, 1_795_602_600),  // 10:30
        ("@hourly", wednesday, 1_795_604_400),  // 11:00
        ("@yearly", wednesday, 1_798_761_600),  // 2027-01-01
        ("0 12 * * mon-fri", 1_795_784_400, 1_796_040_000),  // Friday 13:00 → Monday 12:00
        ("30 4 1,15 * 5", wednesday, 1_795_753_800),  // both day fields: either matches → Friday the 27th
        ("0 0 29 2 *", wednesday, 1_835_395_200),  // the next 29 February, in 2028
        ("5 0 * aug *", wednesday, 1_817_078_700),  // 2027-08-01 00:05
        ("0 0 * * 7", wednesday, 1_795_910_400),  // 7 is Sunday too
        ("0 0 31 * *", wednesday, 1_798_675_200),  // November has no 31st: 31 December
        ("  0   3 *  * *  ", wednesday, 1_795_662_000),  // spacing does not matter
    ])
    func nextFiringTime(expression: String, after: Int64, expected: Int64) throws {
        let cron = try CronExpression(expression)
        #expect(cron.next(after: after, in: UTCZone()) == expected, "\(expression)")
    }

    @Test func aTimeItFiresAtIsNotItsNextTime() throws {
        let cron = try CronExpression("0 3 * * *")
        let fired: Int64 = 1_795_662_000
        let next = try #require(cron.next(after: fired, in: UTCZone()))
        #expect(next == fired + 86_400)
    }

    @Test(arguments: [
        ("60 * * * *", "cron minute: \"60\" is not a number from 0 to 59"),
        ("* * * *", "cron expression: 4 fields in \"* * * *\"; expected 5 (minute hour day-of-month month day-of-week) or a macro such as @daily"),
        ("0 0 30 2 *", "cron day of month: no chosen month has day 30; it would never fire"),
        ("*/0 * * * *", "cron minute: step \"0\" is not a whole number from 1 to 60"),
        ("5-1 * * * *", "cron minute: range 5-1 runs backwards"),
        ("* * * foo *", "cron month: \"foo\" is not a number from 1 to 12 or a name (jan…dec)"),
        ("* * * * 1,,2", "cron day of week: \"\" is not a value, range or step"),
        ("@often", "cron expression: 1 fields in \"@often\"; expected 5 (minute hour day-of-month month day-of-week) or a macro such as @daily"),
    ])
    func aBadExpressionNamesItsField(expression: String, message: String) {
        #expect(throws: CronExpression.ParseError.self) { try CronExpression(expression) }
        do {
            _ = try CronExpression(expression)
        } catch {
            #expect(error.description == message)
        }
    }

    @Test func anOverlongExpressionIsRefused() {
        #expect(throws: CronExpression.ParseError.self) { try CronExpression(String(repeating: "1,", count: 200) + "1 * * * *") }
    }
}
