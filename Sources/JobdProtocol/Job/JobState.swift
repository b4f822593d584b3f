/// Where a job is in its life. Every transition is one row update in one transaction.
///
/// `scheduled` → `queued` → `running` → `succeeded` | `failed` | `cancelled`; a job with retries goes back
/// to `scheduled` after a failed attempt and ends `dead` when none is left.
public enum JobState: String, CaseIterable, Hashable, Sendable, Codable {
    /// Waiting for its `run_at` time or its dependencies.
    case scheduled
    /// Ready; waiting for a free slot of its class.
    case queued
    /// An attempt is running.
    case running
    /// The last attempt succeeded.
    case succeeded
    /// The only attempt failed (a job without retries).
    case failed
    /// Every attempt failed (Sidekiq's word for "retries exhausted").
    case dead
    /// Cancelled by a user before it could finish.
    case cancelled

    /// The states nothing more happens in: the ones a prune may delete.
    public static let finishedStates: Set<JobState> = [.succeeded, .failed, .dead, .cancelled]

    /// True when nothing more will happen to the job.
    public var isFinished: Bool {
        switch self {
        case .succeeded, .failed, .dead, .cancelled: true
        case .scheduled, .queued, .running: false
        }
    }
}
