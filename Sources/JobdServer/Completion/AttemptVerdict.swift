import JobdProtocol
import JobdRunners

/// Decides what a finished attempt means for its job (DESIGN §2): the state it moves to.
///
/// Pure, so the rules can be read in one place: a cancel wins over the exit status; a shutdown requeues;
/// a failed attempt is retried while attempts remain; a job with retries that used them all is `dead`.
enum AttemptVerdict {
    static func state(
        for outcome: RunOutcome, stop: StopReason?, attemptsUsed: Int, maxAttempts: Int
    ) -> JobState {
        switch stop {
        case .cancelled: return .cancelled
        case .shutdown: return .queued
        case .timedOut, nil: break
        }
        if outcome.isSuccess { return .succeeded }
        if attemptsUsed < maxAttempts { return .queued }
        return maxAttempts > 1 ? .dead : .failed
    }
}
