import JobdProtocol
import JobdScheduler
import Testing

/// The pause before a retry, and the queue of jobs that wait for a time.
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

    /// A mass cancel of delayed jobs frees their heap entries now, not at their due time.
    @Test func theDueQueueCompactsWhenRemovedEntriesOutnumberTheRest() {
        var queue = DueQueue()
        for id in 1...10_000 { queue.add(JobID(Int64(id)), due: Double(20_000 - id)) }
        for id in 1...9_000 { queue.remove(JobID(Int64(id))) }
        #expect(queue.count == 1_000 && queue.entryCount <= 2 * 1_000 + 1_024, "\(queue.entryCount)")
        let due = queue.popDue(at: 20_000)
        #expect(due == (9_001...10_000).reversed().map { JobID(Int64($0)) }, "earliest first")
    }

    @Test func theDueQueueGivesJobsBackInTimeOrderOnce() {
        var queue = DueQueue()
        queue.add(JobID(3), due: 30)
        queue.add(JobID(1), due: 10)
        queue.add(JobID(2), due: 10)
        queue.add(JobID(4), due: 40)
        var next = queue.nextDue()
        #expect(next == 10)
        var popped = queue.popDue(at: 9)
        #expect(popped.isEmpty)
        popped = queue.popDue(at: 10)
        #expect(popped == [JobID(1), JobID(2)], "ties in id order")
        var removed = queue.remove(JobID(3))
        #expect(removed)
        removed = queue.remove(JobID(3))
        #expect(!removed)
        next = queue.nextDue()
        #expect(next == 40, "a removed job no longer sets the timer")
        queue.add(JobID(4), due: 15)
        popped = queue.popDue(at: 100)
        #expect(popped == [JobID(4)], "a moved job comes back once, at its new time")
        next = queue.nextDue()
        #expect(queue.count == 0 && next == nil)
    }
}
