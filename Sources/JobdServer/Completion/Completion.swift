import JobdProtocol
import JobdRunners
import JobdScheduler
import JobdStore
import Logging

/// What follows the end of an attempt (DESIGN §2), apart from freeing its slot: the verdict, the
/// outcome's write (kept and written again until it commits) and handing the run to learning.
/// The dispatcher calls these in order and wakes the job's waiters once the outcome has committed.
struct Completion: Sendable {
    let store: any JobStore
    let profileBook: ProfileBook
    let logger: Logger
    /// The time written into rows (a test passes its own clock).
    let now: @Sendable () -> Timestamp

    /// What the attempt means for its job: the state it moves to, for a retry the time it may start
    /// again (nil: at once), and the write that stores it (called again on a retry of the write).
    func verdict(on plan: JobPlan, outcome: RunOutcome, stop: StopReason?)
        -> (state: JobState, retryAt: Timestamp?, write: @Sendable () -> CommitTicket<[StateChange]>)
    {
        let attemptsUsed = plan.attempts + 1
        let state = AttemptVerdict.state(
            for: outcome, stop: stop, attemptsUsed: attemptsUsed, maxAttempts: plan.maxAttempts)
        let finishedAt = now()
        var retryAt: Timestamp?
        if state == .queued && stop != .shutdown {
            let pause = RetryTiming.pause(afterAttempt: attemptsUsed, backoff: plan.backoff, base: plan.backoffSeconds)
            if pause > 0 { retryAt = Timestamp(secondsSinceEpoch: finishedAt.secondsSinceEpoch + pause) }
        }
        // An attempt a shutdown stopped is kept with what it did (its wall time, its signal) like any other,
        // and the job is queued again for the next start (issue 18: it was kept as WALL 0.00s, OUTCOME -).
        var outcome = outcome
        if stop == .shutdown {
            outcome.error = (outcome.error ?? StopReason.shutdown.failureText) + "; requeued for the next start"
        }
        let write: @Sendable () -> CommitTicket<[StateChange]> = { [store, id = plan.id, retryAt, outcome] in
            store.finish(id, state: state, outcome: outcome, at: finishedAt, retryAt: retryAt)
        }
        return (state, retryAt, write)
    }

    /// Awaits an outcome's commit; when it fails (a full disk, an I/O error), keeps the outcome and
    /// writes it again with backoff until it commits, the store closes, or the daemon stops this task.
    /// Until then the row says `running` and claimed, so no claim takes the job again, and a restart
    /// requeues it: at-least-once holds either way.
    /// - Returns: the dependents the committed write moved; nil when the outcome is not stored.
    func commitKeepingOutcome(
        of id: JobID, first: CommitTicket<[StateChange]>, retry write: @Sendable () -> CommitTicket<[StateChange]>
    ) async -> [StateChange]? {
        var ticket = first
        var delay = Duration.milliseconds(100)
        for failures in 1... {
            do {
                let moved = try await ticket.committed()
                if failures > 1 { logger.notice("job \(id): its outcome is stored at last", metadata: ["job": "\(id)"]) }
                return moved
            } catch {
                if case StoreError.closed = error { return nil }
                logger.error(
                    "job \(id): could not store its outcome (try \(failures)): \(error); trying again in \(delay)",
                    metadata: ["job": "\(id)"])
                do {
                    try await Task.sleep(for: delay)
                } catch {
                    return nil  // the daemon is stopping; the next start requeues the job
                }
                delay = min(delay * 2, Self.longestOutcomeRetryDelay)
                ticket = write()
            }
        }
        return nil
    }

    /// The longest pause between two tries of an outcome write that the disk refused.
    static let longestOutcomeRetryDelay = Duration.seconds(5)

    /// What the run teaches its signature's profile (Classification/RunLearning.swift).
    func learn(from outcome: RunOutcome, of plan: JobPlan, stop: StopReason?) async {
        await RunLearning.learn(from: outcome, of: plan, stop: stop, into: profileBook, at: now())
    }
}
