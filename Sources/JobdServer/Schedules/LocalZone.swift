import Glibc
import JobdScheduler

/// The system's local time zone (TZ, /etc/localtime), through libc: the zone schedules' cron
/// expressions are read in. The scheduler's core does no system calls; this is where its zone comes from.
struct LocalZone: WallClockZone {
    func wallClock(at instant: Int64) -> WallClockTime {
        var seconds = time_t(instant)
        var broken = tm()
        localtime_r(&seconds, &broken)
        return WallClockTime(
            year: Int(broken.tm_year) + 1900, month: Int(broken.tm_mon) + 1, day: Int(broken.tm_mday),
            hour: Int(broken.tm_hour), minute: Int(broken.tm_min), weekday: Int(broken.tm_wday))
    }

    func instant(of wall: WallClockTime) -> Int64 {
        // The fields stay small (a cron search steps a month at a time), so the Int32 conversions hold.
        var broken = tm()
        broken.tm_year = Int32(clamping: wall.year - 1900)
        broken.tm_mon = Int32(clamping: wall.month - 1)
        broken.tm_mday = Int32(clamping: wall.day)
        broken.tm_hour = Int32(clamping: wall.hour)
        broken.tm_min = Int32(clamping: wall.minute)
        broken.tm_isdst = -1  // let mktime decide whether daylight saving applies
        return Int64(mktime(&broken))
    }
}
