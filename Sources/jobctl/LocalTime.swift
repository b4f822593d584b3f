import Glibc
import JobdProtocol

/// Times as people type them for `--at`: RFC 3339 UTC (`2026-12-01T03:00:00Z`), or a local wall-clock
/// time without a zone (`2026-12-01T03:00`, `2026-12-01 03:00:30`), read in this machine's time zone.
enum LocalTime {
    static func parse(_ text: String) -> Timestamp? {
        if text.hasSuffix("Z") || text.hasSuffix("+00:00") {
            // Seconds may be left out of a UTC time too.
            if let time = Timestamp(rfc3339: text) { return time }
            let head = text.hasSuffix("Z") ? String(text.dropLast()) : String(text.dropLast(6))
            return Timestamp(rfc3339: head + ":00Z")
        }
        let parts = text.split(whereSeparator: { $0 == "T" || $0 == " " })
        guard parts.count == 2 else { return nil }
        let date = parts[0].split(separator: "-").compactMap { Int32($0) }
        let clock = parts[1].split(separator: ":").compactMap { Int32($0) }
        guard date.count == 3, (2...3).contains(clock.count), parts[0].split(separator: "-").count == 3,
            parts[1].split(separator: ":").count == clock.count,
            (1...12).contains(date[1]), (1...31).contains(date[2]), (0...23).contains(clock[0]),
            (0...59).contains(clock[1]), clock.count == 2 || (0...60).contains(clock[2]), (1970...9999).contains(date[0])
        else { return nil }
        var broken = tm()
        broken.tm_year = date[0] - 1900
        broken.tm_mon = date[1] - 1
        broken.tm_mday = date[2]
        broken.tm_hour = clock[0]
        broken.tm_min = clock[1]
        broken.tm_sec = clock.count == 3 ? clock[2] : 0
        broken.tm_isdst = -1  // mktime decides whether daylight saving applies then
        let seconds = mktime(&broken)
        guard seconds != -1 else { return nil }
        return Timestamp(secondsSinceEpoch: Double(seconds))
    }
}
