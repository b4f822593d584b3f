import JobdProtocol

/// A job moved from one state to another by a store transition: what the daemon counts for `status`,
/// shows to `watch`, and wakes waiting clients by. A transition reports every job it moved, the cascade
/// to dependents included, so nothing in memory decides a job's state again (issue 19).
public struct StateChange: Sendable, Hashable {
    public var id: JobID
    public var owner: UInt32
    public var `class`: JobClass
    public var from: JobState
    public var to: JobState

    public init(id: JobID, owner: UInt32, class: JobClass, from: JobState, to: JobState) {
        self.id = id
        self.owner = owner
        self.class = `class`
        self.from = from
        self.to = to
    }
}

/// What one jobd asks of the store when slots free: up to `slots[class]` ready jobs of each class, taken in
/// the order users see (priority, then due time, then id), with the stored queue limits and pauses applied.
public struct ClaimRequest: Sendable, Hashable {
    /// The most jobs of each class to claim for free slots; a class absent or at 0 claims none.
    public var slots: [JobClass: Int]
    /// Jobs of each class to claim beyond `slots`, after them: the jobd starts them as slots free, without
    /// a transaction each. The claim never starts these.
    public var ahead: [JobClass: Int] = [:]
    /// Scheduled jobs due by then become `queued` first (a delay or a retry's backoff that has run out).
    public var now: Timestamp
    /// Kinds of I/O-class job that begin the moment they are handed over (a handler called in the daemon):
    /// the claim also starts them (`running`, `started_at`, the attempt counted), so their start costs no
    /// commit of its own.
    public var startingKinds: Set<String>

    public init(slots: [JobClass: Int], ahead: [JobClass: Int] = [:], now: Timestamp, startingKinds: Set<String> = []) {
        self.slots = slots
        self.ahead = ahead
        self.now = now
        self.startingKinds = startingKinds
    }

    /// The most jobs a claim returns, whatever a caller asks: one claim is one transaction.
    public static let maximumJobs = 4096

    /// The jobs of a class asked for, slots and ahead, each taken as 0 to ``maximumJobs`` (no sum of
    /// what a caller passes can overflow).
    public func asked(_ jobClass: JobClass) -> Int {
        let clamp = { (value: Int?) in min(max(value ?? 0, 0), Self.maximumJobs) }
        return clamp(slots[jobClass]) + clamp(ahead[jobClass])
    }
}

/// What a claim took.
public struct Claim: Sendable {
    /// The jobs claimed, whole (what running them takes), still `queued` until each one starts: a claimed
    /// job is this jobd's to start and nobody else's. In claim order.
    public var jobs: [Job]
    /// Those of `jobs` the claim also started (``ClaimRequest/startingKinds``). Their rows in `jobs` are as
    /// before the start: `attempts` counts the attempts before this one.
    public var started: Set<JobID> = []
    /// Scheduled jobs that became `queued` because their time came.
    public var due: [StateChange]
    /// When the earliest scheduled job that waits only for its time becomes due; nil: none does.
    public var nextDue: Timestamp?
    /// Classes asked for in which nothing more can be claimed now: every ready job was taken, or the rest sit in
    /// paused or full queues (or the class is paused). A claim for such a class finds nothing until a job
    /// becomes ready, a job of a limited queue ends or a control changes. A class cut short by
    /// ``ClaimRequest/maximumJobs`` is not in it.
    public var exhausted: Set<JobClass> = []

    public init(jobs: [Job] = [], due: [StateChange] = [], nextDue: Timestamp? = nil) {
        self.jobs = jobs
        self.due = due
        self.nextDue = nextDue
    }
}
