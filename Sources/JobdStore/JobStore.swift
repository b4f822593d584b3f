import JobdProtocol

/// The one narrow interface through which the daemon reaches storage (DESIGN §5), so a second backend
/// is an added type, not a rewrite.
///
/// **Every method that changes a job returns only after its transaction has committed**, except the
/// `record…` methods, which are queued behind earlier writes and committed with the next group.
public protocol JobStore: Sendable {
    /// Requeues jobs a dead daemon left running and reports what the ready queues and counts start from.
    /// Call it once, before anything else.
    func recover(at now: Timestamp) async throws -> StartupState

    /// Stores jobs, all or none, as `queued`. - Returns: their ids, in order.
    func submit(_ jobs: [NewJob]) async throws -> [JobID]

    /// Marks a job `running` and counts the attempt. Not awaited: ordered before the job's finish.
    func recordStarted(_ id: JobID, at now: Timestamp)

    /// Stores an attempt's outcome and the job's new state.
    func finish(_ id: JobID, state: JobState, outcome: RunOutcome, at now: Timestamp) async throws

    /// Cancels a job that is not running. - Returns: false if it was running or finished already.
    func cancelWaiting(_ id: JobID, at now: Timestamp) async throws -> Bool

    /// Puts jobs that were running back to `queued` (daemon shutdown).
    func requeue(_ ids: [JobID]) async throws

    /// One job, or nil.
    func job(_ id: JobID) async throws -> Job?

    /// Jobs, newest first, and whether more match.
    func jobs(matching filter: JobFilter) async throws -> (jobs: [Job], more: Bool)
}
