import JobdProtocol

/// How long a failed job waits before its next attempt (DESIGN §2, docs/PROTOCOL.md "Retries").
public enum RetryTiming {
    /// The pause before the attempt after attempt `attemptsUsed` (1 for the first retry's pause).
    ///
    /// `fixed`: `base` every time. `exp`: `base` × 2^(attemptsUsed − 1), capped at
    /// ``JobLimits/maximumExponentialBackoffSeconds`` (or `base`, if longer), then drawn uniformly between
    /// its half and its whole, so jobs that failed together do not all come back at the same instant.
    /// - Parameter unit: a number in [0, 1) (the random draw; tests pass their own).
    public static func pause(
        afterAttempt attemptsUsed: Int, backoff: Backoff, base: Double, unit: Double = Double.random(in: 0..<1)
    ) -> Double {
        let base = base.isFinite ? min(max(base, 0), JobLimits.backoffSecondsRange.upperBound) : 0
        switch backoff {
        case .fixed:
            return base
        case .exp:
            let cap = max(base, JobLimits.maximumExponentialBackoffSeconds)
            // 2^(n−1) overflows nothing: the exponent is capped far below Double's range.
            let full = min(cap, base * Double(sign: .plus, exponent: min(max(attemptsUsed - 1, 0), 62), significand: 1))
            return full / 2 + full / 2 * min(max(unit, 0), 1)
        }
    }
}
