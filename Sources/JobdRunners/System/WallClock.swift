import Glibc
import JobdProtocol

/// The time of day, for the timestamps jobs carry. Durations are measured with `ContinuousClock` instead.
public enum WallClock {
    /// Now. The corresponding C function is `clock_gettime(CLOCK_REALTIME)`.
    public static func now() -> Timestamp {
        var spec = timespec()
        clock_gettime(CLOCK_REALTIME, &spec)
        return Timestamp(secondsSinceEpoch: Double(spec.tv_sec) + Double(spec.tv_nsec) / 1e9)
    }
}
