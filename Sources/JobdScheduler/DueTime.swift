import JobdProtocol

/// When a waiting job fell (or falls) due, to the second: what orders ready jobs of equal priority.
///
/// A job's due time is its `run_at` when it has one (a delay, or the pause before a retry), else its submit
/// time (`created_at`): what the store holds, so the order is the same after a restart.
///
/// Whole seconds since the Unix epoch in 32 bits, because a million queued jobs each carry one twice (in
/// ``ReadyJob`` and in the dispatcher's 16-byte record of the job; issue 9): jobs that fall due within the
/// same second are ordered by id. Good until 2106; a time outside the range is clamped, never trapped on.
public struct DueTime: Hashable, Comparable, Sendable {
    public let secondsSinceEpoch: UInt32

    public init(secondsSinceEpoch: UInt32) {
        self.secondsSinceEpoch = secondsSinceEpoch
    }

    /// The whole second `seconds` falls in, clamped to the range (NaN and times before 1970: 0).
    public init(secondsSinceEpoch seconds: Double) {
        if !(seconds > 0) {
            secondsSinceEpoch = 0
        } else if seconds >= Double(UInt32.max) {
            secondsSinceEpoch = .max
        } else {
            secondsSinceEpoch = UInt32(seconds)  // in range: truncation is the floor
        }
    }

    public init(_ timestamp: Timestamp) {
        self.init(secondsSinceEpoch: timestamp.secondsSinceEpoch)
    }

    /// 1970: due before any real job (a test's or a caller's "no particular time").
    public static let epoch = DueTime(secondsSinceEpoch: UInt32(0))

    public static func < (lhs: DueTime, rhs: DueTime) -> Bool { lhs.secondsSinceEpoch < rhs.secondsSinceEpoch }
}
