import JobdProtocol

/// A validated job about to be stored: the spec with its defaults filled in, its class decided, and its
/// owner taken from the socket's peer credentials.
public struct NewJob: Sendable {
    public var spec: JobSpec
    public var `class`: JobClass
    public var classSource: ClassSource
    public var classReason: String?
    public var signature: String?
    public var ownerUID: UInt32
    public var ownerGID: UInt32
    public var createdAt: Timestamp
    /// For a hook's job: the job it reports on.
    public var hookOf: JobID?

    public init(
        spec: JobSpec, class: JobClass, classSource: ClassSource, classReason: String?, signature: String? = nil,
        ownerUID: UInt32, ownerGID: UInt32, createdAt: Timestamp
    ) {
        self.signature = signature
        self.spec = spec
        self.class = `class`
        self.classSource = classSource
        self.classReason = classReason
        self.ownerUID = ownerUID
        self.ownerGID = ownerGID
        self.createdAt = createdAt
    }
}

/// What ``JobStore/submit(_:)`` did with each job of a call.
public struct SubmitResult: Sendable {
    /// Per job, in order: its id.
    public var ids: [JobID]
    /// The indices of jobs whose unique key matched an unfinished job of the same owner: `ids` holds that
    /// job's id, and nothing new was stored for them.
    public var existing: Set<Int> = []
    /// Per newly stored job (by index) that waits for others: the unfinished jobs it waits for. It is
    /// stored `scheduled` until they have all succeeded.
    public var waitsFor: [Int: [JobID]] = [:]

    public init(ids: [JobID], existing: Set<Int> = [], waitsFor: [Int: [JobID]] = [:]) {
        self.ids = ids
        self.existing = existing
        self.waitsFor = waitsFor
    }
}

/// Why the store refused a submit: the call stores nothing.
public enum SubmitRefusal: Error, Hashable, Sendable {
    /// Job `index` waits for `dependency`, which does not exist or is not the submitter's.
    case unknownDependency(index: Int, JobID)
    /// Job `index` waits for `dependency`, which ended without success: it could never run.
    case dependencyEnded(index: Int, JobID, JobState)
}

/// What ``JobStore/retry(_:)`` did.
public enum RetryResult: Sendable {
    /// Queued again, as now stored.
    case queued(Job)
    /// It is not failed, dead or cancelled (any more).
    case notRetryable
    /// Another unfinished job of its owner holds its unique key.
    case keyHeld(by: JobID)
}

/// What start-up needs from the database: the jobs to put back in the ready queues and the counts
/// `status` then keeps up to date.
public struct StartupState: Sendable {
    /// Jobs left `running` by a daemon that died; they are `queued` again (the attempt counted).
    public var requeued: [JobID]
    /// Jobs left `running` by the last three unclean stops in a row: ended `dead`, not run again.
    public var poisoned: [JobID]
    /// Every `queued` job, oldest first: what scheduling needs of it, not what running it needs.
    public var ready: [QueuedJob]
    /// Every `scheduled` job with the time it may start (`run_at`; nil: at once).
    public var scheduled: [(job: QueuedJob, runAt: Timestamp?)] = []
    /// What scheduled jobs wait for: (job, the unfinished job it waits for).
    public var dependencies: [(job: JobID, dependsOn: JobID)] = []
    /// Jobs per class and state.
    public var counts: [JobClass: StateCounts]
}

/// A queued job as start-up rebuilds the ready queues from it: no command, environment or payload.
///
/// Start-up holds one per stored waiting job at once (a million, in the benchmark's queued row), so the
/// fields are in the order that packs best: 48 bytes, as before `dueAt` was added.
public struct QueuedJob: Sendable, Hashable {
    public var id: JobID
    public var priority: Int
    public var queue: String
    /// Its `run_at` if it has one, else its `created_at`: what orders it among jobs of its priority.
    public var dueAt: Timestamp
    public var ownerUID: UInt32
    public var `class`: JobClass

    public init(
        id: JobID, class: JobClass, priority: Int, ownerUID: UInt32, queue: String = "default",
        dueAt: Timestamp = Timestamp(secondsSinceEpoch: 0)
    ) {
        self.id = id
        self.class = `class`
        self.priority = priority
        self.ownerUID = ownerUID
        self.queue = queue
        self.dueAt = dueAt
    }
}

/// Which jobs `list` returns.
public struct JobFilter: Sendable {
    public var states: [JobState]?
    public var queue: String?
    public var beforeID: JobID?
    public var limit: Int
    /// Only this user's jobs; nil for root, who sees all.
    public var ownerUID: UInt32?

    public init(states: [JobState]?, queue: String?, beforeID: JobID?, limit: Int, ownerUID: UInt32?) {
        self.states = states
        self.queue = queue
        self.beforeID = beforeID
        self.limit = limit
        self.ownerUID = ownerUID
    }
}

extension NewJob {
    /// Not before this time (a delayed job); nil: at once.
    public var runAt: Timestamp? { spec.notBefore(submittedAt: createdAt) }

    /// `scheduled` for a delayed job, else `queued` (the store also schedules a job that waits for others).
    public var initialState: JobState { runAt == nil ? .queued : .scheduled }

    /// The job as ``JobStore/submit(_:)`` stored it under `id`: queued or scheduled, no attempt yet.
    public func record(id: JobID, waiting: Bool = false) -> Job {
        Job(
            id: id, name: spec.name, state: waiting ? .scheduled : initialState, kind: spec.resolvedKind, argv: spec.argv, env: spec.env,
            cwd: spec.cwd, payload: spec.payload ?? .null, queue: spec.queue ?? "default", class: `class`,
            classSource: classSource, classReason: classReason, signature: signature, priority: spec.priority ?? 0,
            maxAttempts: spec.maxAttempts ?? 1, runAt: runAt, backoff: spec.backoff ?? .exp,
            backoffSeconds: spec.backoffSeconds ?? 1, onSuccess: spec.onSuccess, onFailure: spec.onFailure,
            hookOf: hookOf, timeoutSeconds: spec.timeoutSeconds, ownerUID: ownerUID,
            ownerGID: ownerGID, createdAt: createdAt)
    }
}
