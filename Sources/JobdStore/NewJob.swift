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
    /// Whether the owner's unfinished jobs are bound to ``JobLimits/maximumQueuesPerUser`` queues: false
    /// for root and the daemon's own user, who can set limits and pauses on any queue anyway.
    public var queuesBounded = true

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
    /// Job `index` names a queue that would take its owner's unfinished jobs past
    /// ``JobLimits/maximumQueuesPerUser`` queues besides `default`; `held` they use already.
    case tooManyQueues(index: Int, held: Int)
    /// Job `index` would take its owner's waiting dependencies past
    /// ``JobLimits/maximumWaitingDependenciesPerUser``; `held` are stored already, `adding` come with the call.
    case tooManyDependencies(index: Int, held: Int, adding: Int)
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

/// What start-up needs from the database: what recovery did, and the counts `status` then keeps up to
/// date. No waiting job is read: a node claims them from the store as its slots free (issue 19).
public struct StartupState: Sendable {
    /// Jobs left `running` (or claimed) by a daemon that died; they are `queued` again (the attempt counted).
    public var requeued: [JobID]
    /// Jobs left `running` by the last three unclean stops in a row: ended `dead`, not run again.
    public var poisoned: [JobID]
    /// Jobs per class and state.
    public var counts: [JobClass: StateCounts]

    public init(requeued: [JobID], poisoned: [JobID], counts: [JobClass: StateCounts]) {
        self.requeued = requeued
        self.poisoned = poisoned
        self.counts = counts
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
