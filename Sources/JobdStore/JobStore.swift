import JobdProtocol

/// The one narrow interface through which the daemon reaches storage (DESIGN §5), so a second backend
/// is an added type, not a rewrite.
///
/// **Every `async` method that changes a job returns only after its transaction has committed.** The others
/// queue their write at once, behind every write queued before, and return a ticket (or nothing) to await
/// the commit with: the dispatcher frees a slot as soon as a job's outcome is queued, not committed.
public protocol JobStore: Sendable {
    /// Requeues jobs a dead daemon left running or claimed, and counts the jobs per class and state. Call
    /// it once, before anything else. It reads no waiting job: they are claimed as slots free.
    func recover(at now: Timestamp) async throws -> StartupState

    /// Stores jobs, all or none, as `queued` (`scheduled` while a delay runs or jobs they wait for have
    /// not all succeeded). A job whose unique key an unfinished job of its owner holds is not stored: that
    /// job's id stands for it. - Throws: ``SubmitRefusal`` for a dependency that cannot be waited for, or
    /// a per-user bound (queues, waiting dependencies) the call would pass.
    /// With a `claim`, claims in the same transaction, after the jobs are stored (as ``claim(_:)``): a job
    /// submitted while a slot is free costs no commit of its own to claim.
    func submit(_ jobs: [NewJob], claiming claim: ClaimRequest?) async throws -> (stored: SubmitResult, claim: Claim?)

    /// Claims ready jobs for this jobd, up to the free slots of each class, in one transaction: scheduled
    /// jobs whose time has come are `queued` first, then the best ready jobs (priority, then due time,
    /// then id) are taken, skipping paused classes and queues and any queue at its limit (counting the
    /// jobs claimed and running in it). A claimed job stays `queued` until ``recordStarted(_:at:)``.
    func claim(_ request: ClaimRequest) async throws -> Claim

    /// Gives back claims of jobs that have not started: anyone's to claim again (a pause or limit changed,
    /// or a cancel of a job claimed ahead).
    func unclaim(_ ids: [JobID]) async throws

    /// Marks a claimed job `running` and counts the attempt. Not awaited: ordered before the job's finish.
    func recordStarted(_ id: JobID, at now: Timestamp)

    /// Queues an attempt's outcome and the job's new state, and gives up the job's claim (a success
    /// releases the jobs that wait for it; any other end cancels them, transitively); the ticket gives,
    /// once committed, the dependents it moved. Queued at once, so any write queued after it (the next
    /// claim) lands after it. A retry (`queued`) with a `retryAt` is stored `scheduled` until then.
    func finish(_ id: JobID, state: JobState, outcome: RunOutcome, at now: Timestamp, retryAt: Timestamp?)
        -> CommitTicket<[StateChange]>

    /// Cancels a job that waits (not claimed, not running), and the jobs that wait for it.
    /// - Returns: every job it moved, itself first; nil if it was claimed, running or finished already.
    func cancelWaiting(_ id: JobID, at now: Timestamp) async throws -> [StateChange]?

    /// The jobs `id` still waits for (its `after` that have not succeeded yet), lowest id first.
    func waitsFor(_ id: JobID) async throws -> [JobID]

    /// Queues a failed, dead or cancelled job again, for one more attempt (its last is kept in its
    /// history), unless another unfinished job of its owner holds its unique key. Its `run_at` becomes
    /// `now`: among jobs of its priority it is due from the retry, not from its first submit.
    func retry(_ id: JobID, at now: Timestamp) async throws -> RetryResult

    /// Several jobs by id, in one read; ids that do not exist are absent.
    func jobs(_ ids: [JobID]) async throws -> [JobID: Job]

    /// Those of `ids` that exist and have not finished, in one read.
    func unfinished(_ ids: [JobID]) async throws -> Set<JobID>

    /// The owner uid of each job that exists, in one read.
    func owners(_ ids: [JobID]) async throws -> [JobID: UInt32]

    /// One job, or nil.
    func job(_ id: JobID) async throws -> Job?

    /// Every attempt of a job, first to latest (the latest may be running); empty for an unknown id.
    func attempts(of id: JobID) async throws -> [AttemptRecord]

    /// Jobs, newest first, and whether more match.
    func jobs(matching filter: JobFilter) async throws -> (jobs: [Job], more: Bool)

    /// Deletes up to `limit` finished jobs in one transaction, oldest finish first: those in one of
    /// `states` (each a finished state) that finished at or before `cutoff`, and, with `ownerUID`, only
    /// that user's. Their dependency rows go with them. **Never deletes a job that has not finished.**
    /// - Returns: the deleted jobs; fewer than `limit` means no more match.
    func prune(finishedBy cutoff: Timestamp, states: Set<JobState>, ownerUID: UInt32?, limit: Int) async throws
        -> [PrunedJob]

    // MARK: Schedules

    /// Every schedule's timing, by owner and name, without its job (`spec` nil).
    func scheduleTimings() async throws -> [StoredSchedule]

    /// One schedule with its job, or nil.
    func schedule(owner: UInt32, name: String) async throws -> StoredSchedule?

    /// Up to `limit` schedules with their jobs, of `owner` (nil: everyone's), after `after`, by owner and
    /// name, and whether more follow.
    func schedules(of owner: UInt32?, after: (owner: UInt32, name: String)?, limit: Int) async throws
        -> (schedules: [StoredSchedule], more: Bool)

    /// Stores a schedule, replacing the owner's one of the same name.
    func saveSchedule(_ schedule: StoredSchedule, at now: Timestamp) async throws

    /// Removes the owner's schedule of that name. - Returns: whether there was one.
    func removeSchedule(owner: UInt32, name: String) async throws -> Bool

    /// Moves a schedule's next due time from `due` to `next` and, with a `job`, stores that job, all in one
    /// transaction: a due time fires once, also across a crash. - Returns: nil when the schedule's next due
    /// time is no longer `due` (replaced or removed meanwhile): nothing was stored. Throws
    /// ``SubmitRefusal`` like a submit.
    func fire(_ schedule: StoredSchedule, dueAt due: Timestamp, next: Timestamp, job: NewJob?) async throws -> SubmitResult?

    // MARK: Limits and pauses

    /// Every limit and pause set.
    func schedulingControls() async throws -> [SchedulingControl]

    /// Stores a target's limit and pause, replacing what it had; a target with neither is deleted.
    func saveSchedulingControl(_ control: SchedulingControl) async throws

    // MARK: Learned classes

    /// Every stored profile.
    func profiles() async throws -> [Profile]

    /// Queues storing a profile (insert or replace).
    func saveProfile(_ profile: Profile, at now: Timestamp) -> CommitTicket<Void>

    /// Queues removing a profile (owner nil: a daemon-wide pin).
    func deleteProfile(owner: UInt32?, signature: String) -> CommitTicket<Void>

    /// Rewrites a job's class reason (a running job reclassified). Not awaited.
    func updateClassReason(_ id: JobID, reason: String)
}

extension JobStore {
    /// Stores jobs, claiming none.
    public func submit(_ jobs: [NewJob]) async throws -> SubmitResult {
        try await submit(jobs, claiming: nil).stored
    }

    /// An outcome with no pause before a retry.
    public func finish(_ id: JobID, state: JobState, outcome: RunOutcome, at now: Timestamp) -> CommitTicket<[StateChange]> {
        finish(id, state: state, outcome: outcome, at: now, retryAt: nil)
    }
}
