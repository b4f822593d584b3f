/// A standard five-field cron expression (`minute hour day-of-month month day-of-week`), as crontab(5)
/// reads it, and the next time it fires.
///
/// Written here because no cron library is among the packages this project may use (issue 13 says to
/// parse the five fields ourselves then). Supported: `*`, numbers, ranges `a-b`, steps `*/n`, `a-b/n`
/// and `a/n` (from a to the field's end), lists `a,b-c`, month and weekday names (`jan`, `mon`), 7 as
/// Sunday, and the macros `@yearly` (`@annually`), `@monthly`, `@weekly`, `@daily` (`@midnight`),
/// `@hourly`. As in Vixie cron, when both day fields are restricted a day matching either one fires.
///
/// Times are wall-clock times of the zone given to ``next(after:in:)``. Across a daylight-saving change
/// a wall-clock time that does not exist that day (the hour skipped in spring) does not fire that day,
/// and one that happens twice (the hour repeated in autumn) fires once, at its first occurrence.
public struct CronExpression: Hashable, Sendable, CustomStringConvertible {
    /// What is wrong with an expression, naming the field.
    public struct ParseError: Error, Hashable, Sendable, CustomStringConvertible {
        public var field: String
        public var reason: String
        public var description: String { "cron \(field): \(reason)" }
    }

    /// The text it was parsed from.
    public let description: String
    let minutes: Set<Int>
    let hours: Set<Int>
    let daysOfMonth: Set<Int>
    let months: Set<Int>
    /// 0 = Sunday … 6 = Saturday.
    let daysOfWeek: Set<Int>
    let dayOfMonthIsRestricted: Bool
    let dayOfWeekIsRestricted: Bool

    private struct Field {
        let name: String
        let range: ClosedRange<Int>
        let names: [String]
        /// The first value `names` stand for (1 for months, 0 for weekdays).
        let namesStart: Int
    }

    private static let fields = [
        Field(name: "minute", range: 0...59, names: [], namesStart: 0),
        Field(name: "hour", range: 0...23, names: [], namesStart: 0),
        Field(name: "day of month", range: 1...31, names: [], namesStart: 1),
        Field(
            name: "month", range: 1...12,
            names: ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"], namesStart: 1),
        Field(name: "day of week", range: 0...7, names: ["sun", "mon", "tue", "wed", "thu", "fri", "sat"], namesStart: 0),
    ]

    private static let macros = [
        "@yearly": "0 0 1 1 *", "@annually": "0 0 1 1 *", "@monthly": "0 0 1 * *", "@weekly": "0 0 * * 0",
        "@daily": "0 0 * * *", "@midnight": "0 0 * * *", "@hourly": "0 * * * *",
    ]

    /// The longest expression text accepted: a request field, so bounded.
    public static let maximumLength = 256

    public init(_ text: String) throws(ParseError) {
        guard text.utf8.count <= Self.maximumLength else {
            throw ParseError(field: "expression", reason: "longer than \(Self.maximumLength) bytes")
        }
        let trimmed = text.split(whereSeparator: { $0 == " " || $0 == "\t" }).joined(separator: " ")
        let expanded = Self.macros[trimmed.lowercased()] ?? trimmed
        let parts = expanded.split(separator: " ").map(String.init)
        guard parts.count == 5 else {
            throw ParseError(
                field: "expression",
                reason: "\(parts.count) fields in \"\(text)\"; expected 5 (minute hour day-of-month month day-of-week) or a macro such as @daily")
        }
        var sets: [Set<Int>] = []
        for (part, field) in zip(parts, Self.fields) { sets.append(try Self.parse(part, field)) }
        description = trimmed
        minutes = sets[0]
        hours = sets[1]
        daysOfMonth = sets[2]
        months = sets[3]
        daysOfWeek = Set(sets[4].map { $0 % 7 })
        dayOfMonthIsRestricted = parts[2] != "*"
        dayOfWeekIsRestricted = parts[4] != "*"
        // A day of month no chosen month has (30 2 …) never fires: refuse it now, not at its first due time.
        if dayOfMonthIsRestricted && !dayOfWeekIsRestricted {
            let longest = months.map { [31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][$0 - 1] }.max() ?? 31
            guard let first = daysOfMonth.min(), first <= longest else {
                throw ParseError(field: "day of month", reason: "no chosen month has day \(daysOfMonth.min() ?? 0); it would never fire")
            }
        }
    }

    private static func parse(_ text: String, _ field: Field) throws(ParseError) -> Set<Int> {
        var values = Set<Int>()
        for item in text.lowercased().split(separator: ",", omittingEmptySubsequences: false) {
            let pieces = item.split(separator: "/", omittingEmptySubsequences: false)
            guard pieces.count <= 2, let rangeText = pieces.first, !rangeText.isEmpty else {
                throw ParseError(field: field.name, reason: "\"\(item)\" is not a value, range or step")
            }
            var step = 1
            if pieces.count == 2 {
                guard let parsed = Int(pieces[1]), parsed >= 1, parsed <= field.range.upperBound + 1 else {
                    throw ParseError(field: field.name, reason: "step \"\(pieces[1])\" is not a whole number from 1 to \(field.range.upperBound + 1)")
                }
                step = parsed
            }
            let bounds: ClosedRange<Int>
            if rangeText == "*" {
                bounds = field.range
            } else {
                let ends = rangeText.split(separator: "-", omittingEmptySubsequences: false)
                guard ends.count <= 2 else {
                    throw ParseError(field: field.name, reason: "\"\(rangeText)\" is not a value or a range")
                }
                let low = try value(String(ends[0]), field)
                // `a/n` runs from a to the field's end, as in Vixie cron.
                let high = ends.count == 2 ? try value(String(ends[1]), field) : (pieces.count == 2 ? field.range.upperBound : low)
                guard low <= high else {
                    throw ParseError(field: field.name, reason: "range \(rangeText) runs backwards")
                }
                bounds = low...high
            }
            values.formUnion(stride(from: bounds.lowerBound, through: bounds.upperBound, by: step))
        }
        return values
    }

    private static func value(_ text: String, _ field: Field) throws(ParseError) -> Int {
        if let index = field.names.firstIndex(of: text) { return index + field.namesStart }
        guard let number = Int(text), field.range.contains(number) else {
            let names = field.names.isEmpty ? "" : " or a name (\(field.names.first ?? "")…\(field.names.last ?? ""))"
            throw ParseError(
                field: field.name,
                reason: "\"\(text)\" is not a number from \(field.range.lowerBound) to \(field.range.upperBound)\(names)")
        }
        return number
    }

    // MARK: - Next time

    /// The first time after `instant` (seconds since the epoch) at which the expression fires, to the
    /// minute; nil if it fires in no year within the search bound (it cannot, after the parse checks).
    public func next(after instant: Int64, in zone: some WallClockZone) -> Int64? {
        let start = WallTime(instant, zone)
        // Whole minutes strictly after `instant`.
        var candidate = (instant >= 0 ? instant / 60 + 1 : (instant + 1) / 60) * 60
        // Each step moves to the next month, day, hour or minute that could match: a few thousand steps
        // cover decades.
        for _ in 0..<20_000 {
            var wall = WallTime(candidate, zone)
            if !months.contains(wall.month) {
                wall.advance(.month)
            } else if !dayMatches(wall) {
                wall.advance(.day)
            } else if !hours.contains(wall.hour) {
                wall.advance(.hour)
            } else if !minutes.contains(wall.minute) {
                wall.advance(.minute)
            } else if !start.ordered.lexicographicallyPrecedes(wall.ordered) {
                // The repeated hour of an autumn clock change: this wall-clock time has fired already.
                wall.advance(.minute)
            } else {
                return candidate
            }
            let moved = wall.instant(zone)
            // mktime can land on the same or an earlier instant inside a clock change; always go forward.
            candidate = moved > candidate ? moved : candidate + 60
        }
        return nil
    }

    private func dayMatches(_ wall: WallTime) -> Bool {
        let byMonthDay = daysOfMonth.contains(wall.day)
        let byWeekDay = daysOfWeek.contains(wall.weekday)
        switch (dayOfMonthIsRestricted, dayOfWeekIsRestricted) {
        case (true, true): return byMonthDay || byWeekDay
        case (true, false): return byMonthDay
        case (false, true): return byWeekDay
        case (false, false): return true
        }
    }
}

/// A wall-clock time being stepped by a cron search.
private struct WallTime {
    enum Unit { case month, day, hour, minute }

    var time: WallClockTime

    init(_ instant: Int64, _ zone: some WallClockZone) {
        time = zone.wallClock(at: instant)
    }

    var month: Int { time.month }
    var day: Int { time.day }
    var weekday: Int { time.weekday }
    var hour: Int { time.hour }
    var minute: Int { time.minute }
    var ordered: [Int] { time.ordered }

    /// To the start of the next month, day, hour or minute (carried over by ``instant(_:)``).
    mutating func advance(_ unit: Unit) {
        switch unit {
        case .month:
            time.month += 1
            time.day = 1
            time.hour = 0
            time.minute = 0
        case .day:
            time.day += 1
            time.hour = 0
            time.minute = 0
        case .hour:
            time.hour += 1
            time.minute = 0
        case .minute:
            time.minute += 1
        }
    }

    func instant(_ zone: some WallClockZone) -> Int64 { zone.instant(of: time) }
}
