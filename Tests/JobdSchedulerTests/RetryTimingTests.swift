import JobdProtocol
import JobdScheduler
import Testing

/// The pause before a retry.
struct RetryTimingTests {
    @Test func exponentialPausesDoubleWithEqualJitterAndStopAtTheCap() {
        // unit 0 → half the pause, unit 1 → the whole of it.
        #expect(RetryTiming.pause(afterAttempt: 1, backoff: .exp, base: 2, unit: 0) == 1)
        #expect(RetryTiming.pause(afterAttempt: 1, backoff: .exp, base: 2, unit: 1) == 2)
        #expect(RetryTiming.pause(afterAttempt: 3, backoff: .exp, base: 2, unit: 1) == 8)
        #expect(RetryTiming.pause(afterAttempt: 3, backoff: .exp, base: 2, unit: 0.5) == 6)
        #expect(RetryTiming.pause(afterAttempt: 99, backoff: .exp, base: 2, unit: 1) == 3600, "capped at an hour")
        #expect(RetryTiming.pause(afterAttempt: 5, backoff: .exp, base: 7200, unit: 1) == 7200, "a longer base is its own cap")
    }

    @Test func fixedPausesAreTheBaseAndZeroRetriesAtOnce() {
        #expect(RetryTiming.pause(afterAttempt: 1, backoff: .fixed, base: 5, unit: 0.3) == 5)
        #expect(RetryTiming.pause(afterAttempt: 9, backoff: .fixed, base: 5, unit: 0.9) == 5)
        #expect(RetryTiming.pause(afterAttempt: 4, backoff: .exp, base: 0, unit: 0.9) == 0)
        #expect(RetryTiming.pause(afterAttempt: 1, backoff: .exp, base: .nan, unit: 0.9) == 0, "never a NaN pause")
    }
}
