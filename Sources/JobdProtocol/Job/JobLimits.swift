/// The ranges every number and size in a request must fall in, in one place (beanstalkd's `dat.h`).
///
/// **The daemon checks each of them at the protocol edge, before anything is stored**: a value that
/// passes can be converted, stored, and turned into a `Duration` later without a trap, and a job that
/// passed once cannot take the daemon down at every restart. A value outside its range is refused with
/// `io.jobd.InvalidJob` (a `JobSpec` field) or `org.varlink.service.InvalidParameter` (any other).
public enum JobLimits {
    /// `timeout_seconds`: in (0, this], and finite. One year: no job needs longer, and a bound keeps
    /// seconds × 1000 (milliseconds) and `Duration` arithmetic (deadline + kill grace) far from overflow.
    public static let maximumTimeoutSeconds: Double = 31_536_000

    /// `priority`: a million steps either way orders any queue; the bound keeps arithmetic on
    /// priorities (and SQLite's INTEGER) from overflowing.
    public static let priorityRange: ClosedRange<Int> = -1_000_000...1_000_000

    /// `max_attempts`: jobd caps attempts so a failing job cannot retry without bound (each attempt
    /// spawns a process, writes rows and output); a hundred is more than any real retry policy.
    public static let maxAttemptsRange: ClosedRange<Int> = 1...100

    /// `delay_seconds`, and how far ahead `run_at` may be: one year, like the longest timeout.
    public static let maximumDelaySeconds: Double = maximumTimeoutSeconds

    /// `backoff_seconds`: in [0, one day]. 0 retries at once.
    public static let backoffSecondsRange: ClosedRange<Double> = 0...86_400

    /// The longest pause `exp` backoff grows to (unless `backoff_seconds` itself is longer).
    public static let maximumExponentialBackoffSeconds: Double = 3600

    /// `unique_key`: 1 to 256 UTF-8 bytes, no control characters.
    public static let uniqueKeyBytes: ClosedRange<Int> = 1...256

    /// `after` and `after_index` together: the jobs one job may wait for.
    public static let maximumDependencies = 1000

    /// The dependencies (`after` entries) one user's unfinished jobs may wait on at once, over all of them:
    /// each is a row the store checks at every end of the job waited for, so one user cannot fill the
    /// database with them.
    public static let maximumWaitingDependenciesPerUser = 100_000

    /// The distinct queues (besides `default`) one user's unfinished jobs may use at once (root and the
    /// daemon's own user excepted): queue names are shown in `status` and kept per name.
    public static let maximumQueuesPerUser = 64

    /// A queue's limit (`SetQueueLimit`): 0 holds the queue back entirely, like a pause.
    public static let maximumQueueLimit = 1_000_000

    /// A schedule's `every_seconds`: from a second to a year.
    public static let scheduleEverySeconds: ClosedRange<Double> = 1...31_536_000

    /// Schedules one user may keep: each is a timer and a row, held in memory (issue 18: the bound was only
    /// checked, so 200 concurrent adds on top of 990 left 1,190; it is reserved now).
    public static let maximumSchedulesPerUser = 1000

    /// A schedule's job, as JSON: the daemon keeps every schedule in memory, so 1,000 schedules of one user
    /// hold at most 64 MiB (issue 18: 300 schedules of 1 MB cost 300 MB per listing). A job's environment is
    /// its bulk; a typical one is a few KiB.
    public static let maximumScheduleJobBytes = 64 << 10

    /// `on_success` / `on_failure`: one shell command line, in UTF-8 bytes.
    public static let maximumHookBytes = 4096

    /// `name`: a label for tables, in UTF-8 bytes.
    public static let maximumNameBytes = 256

    /// `queue`: 1 to 64 bytes of `[A-Za-z0-9._-]`, so a queue name is safe in any table, log or path.
    public static let queueNameBytes: ClosedRange<Int> = 1...64

    /// `argv`: elements. Linux itself refuses more than `MAX_ARG_STRINGS`; 4096 is plenty for a command line.
    public static let maximumArgvCount = 4096

    /// `env`: entries.
    public static let maximumEnvCount = 4096

    /// `cwd`: an absolute path of at most `PATH_MAX` (4096) bytes.
    public static let maximumCwdBytes = 4096

    /// Job ids: the store assigns them from 1 upwards; 0 and negative ids never exist.
    public static let idRange: ClosedRange<Int64> = 1...Int64.max

    /// The `sleep` handler's `seconds`: in [0, this], and finite (as long as the longest timeout).
    public static let maximumSleepSeconds: Double = maximumTimeoutSeconds

    /// `Wait`'s `ids`, after duplicates collapse: a batch of 100,000 jobs is waited for in one call;
    /// more would only make one reply and one waiter table grow without bound.
    public static let maximumWaitIDs = 100_000

    /// Whether `value` is a valid `timeout_seconds`.
    public static func isValidTimeout(_ value: Double) -> Bool {
        value.isFinite && value > 0 && value <= maximumTimeoutSeconds
    }

    /// Whether `name` is a valid queue name.
    public static func isValidQueueName(_ name: String) -> Bool {
        queueNameBytes.contains(name.utf8.count)
            && name.utf8.allSatisfy { byte in
                switch byte {
                case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
                    UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "-"):
                    true
                default: false
                }
            }
    }
}

extension Duration {
    /// A duration of `seconds`, clamped to `0...JobLimits.maximumTimeoutSeconds`; NaN is zero.
    ///
    /// For durations computed from a stored or received value: `.milliseconds(Int64(x * 1000))` traps
    /// when `x` is out of range, and a row written by an older jobd (before the range checks) must not
    /// take this one down. New requests are range-checked at the edge, so the clamp only ever bites there.
    public static func seconds(checked seconds: Double) -> Duration {
        guard seconds.isFinite else { return seconds == .infinity ? .seconds(Int64(JobLimits.maximumTimeoutSeconds)) : .zero }
        let clamped = min(max(seconds, 0), JobLimits.maximumTimeoutSeconds)
        // In range: clamped × 1000 is below 2^45, so the conversion is exact enough and cannot trap.
        return .milliseconds(Int64((clamped * 1000).rounded()))
    }
}

extension Int {
    /// `value` rounded and clamped into `Int`'s range (NaN is 0): for showing numbers that came in a
    /// reply, where `Int(value)` would trap on an out-of-range or NaN value.
    public static func clamping(_ value: Double) -> Int {
        guard !value.isNaN else { return 0 }
        let rounded = value.rounded()
        if rounded >= Double(Int.max) { return .max }
        if rounded <= Double(Int.min) { return .min }
        return Int(rounded)
    }
}
