import Synchronization

/// Why a running attempt is being stopped from outside.
public enum StopReason: Hashable, Sendable {
    /// A user cancelled the job.
    case cancelled
    /// The job ran past its timeout.
    case timedOut(Duration)
    /// The daemon is shutting down; the job will be requeued.
    case shutdown
}

/// The handle the dispatcher holds on one running attempt: it learns the process group once the process
/// runs, and stopping it reaches that whole group (SIGTERM, then SIGKILL after the grace period).
///
/// A stop asked for before the process has started takes effect the moment it starts.
public final class RunControl: Sendable {
    private struct State {
        var processGroup: Int32?
        var reason: StopReason?
        var isFinished = false
        var hasBegun = false
        var stopHandler: (@Sendable (StopReason) -> Void)?
        var beginHandler: (@Sendable () -> Void)?
        var outcomeIsQueued = false
        var afterOutcome: [Int: @Sendable () -> Void] = [:]
        var nextToken = 0
    }

    private let state = Mutex(State())

    public init() {}

    /// The first reason the attempt was asked to stop, if any.
    public var stopReason: StopReason? { state.withLock { $0.reason } }

    /// The process group of the attempt, once it runs.
    public var processGroup: Int32? { state.withLock { $0.processGroup } }

    /// Asks the attempt to stop: SIGTERM to its process group now, SIGKILL after the grace period.
    /// Only the first reason counts; a stop after the attempt finished does nothing.
    public func stop(_ reason: StopReason) {
        let group: Int32?? = state.withLock { state in
            guard state.reason == nil, !state.isFinished else { return .none }
            state.reason = reason
            return .some(state.processGroup)
        }
        guard case .some(let processGroup) = group else { return }
        if let processGroup { ProcessReactor.signalGroup(processGroup, SIGTERM_VALUE) }
        state.withLock { $0.stopHandler }?(reason)
    }

    /// Calls `handler` once when the attempt is asked to stop (at once if it already was), unless the
    /// attempt has finished. A callback, not a task waiting on a stream: a runner of many short jobs
    /// would otherwise pay a task group per job for a stop that almost never comes.
    func onStop(_ handler: @escaping @Sendable (StopReason) -> Void) {
        let pending = state.withLock { state -> StopReason? in
            guard !state.isFinished else { return nil }
            state.stopHandler = handler
            return state.reason
        }
        if let pending { handler(pending) }
    }

    /// Calls `handler` once when the attempt begins to execute (its process runs, its handler is called):
    /// what the attempt's `running` state and `started_at` mean. A job handed to a worker behind the one
    /// it runs has not begun, and is shown queued until then.
    public func onBegin(_ handler: @escaping @Sendable () -> Void) {
        state.withLock { $0.beginHandler = handler }
    }

    /// Whether the attempt began to execute.
    public var hasBegun: Bool { state.withLock { $0.hasBegun } }

    /// The dispatcher has queued this attempt's outcome for the store (it calls this once, after the
    /// write): what waits for that runs now.
    public func outcomeQueued() {
        let waiting = state.withLock { state -> [@Sendable () -> Void] in
            state.outcomeIsQueued = true
            defer { state.afterOutcome = [:] }
            return state.afterOutcome.sorted { $0.key < $1.key }.map(\.value)
        }
        for body in waiting { body() }
    }

    /// Runs `body` once this attempt's outcome is queued for the store, or now if it is already. The
    /// pool announces the job a worker starts behind this one so: the store then records this attempt's
    /// end before the next one's start, and no moment shows more jobs running than workers (issue 19).
    /// Returns a token for ``cancelAfterOutcome(_:)``; nil when `body` ran at once.
    @discardableResult
    public func afterOutcomeQueued(_ body: @escaping @Sendable () -> Void) -> Int? {
        let token = state.withLock { state -> Int? in
            if state.outcomeIsQueued { return nil }
            state.nextToken += 1
            state.afterOutcome[state.nextToken] = body
            return state.nextToken
        }
        if token == nil { body() }
        return token
    }

    /// Forgets what ``afterOutcomeQueued(_:)`` registered (the job it would announce was taken back).
    public func cancelAfterOutcome(_ token: Int) {
        _ = state.withLock { $0.afterOutcome.removeValue(forKey: token) }
    }

    /// The attempt executes from now on (called by the runner, once; later calls do nothing, and so does
    /// a call after the attempt's end: the pool may announce a job late, after its outcome).
    public func began() {
        let handler = state.withLock { state -> (@Sendable () -> Void)? in
            guard !state.hasBegun, !state.isFinished else { return nil }
            state.hasBegun = true
            return state.beginHandler
        }
        handler?()
    }

    /// Marks the attempt begun if nothing has, without the begin handler; true if this call did. The
    /// dispatcher records the start of an attempt that ended unannounced (stopped in a worker's queue, or
    /// ended before the pool announced it) so, and no later ``began()`` records it again.
    public func beginUnannounced() -> Bool {
        state.withLock { state in
            guard !state.hasBegun else { return false }
            state.hasBegun = true
            return true
        }
    }

    /// Sends a signal to the attempt's process group, if it is running.
    public func signal(_ number: Int32) {
        let group = state.withLock { $0.isFinished ? nil : $0.processGroup }
        if let group { ProcessReactor.signalGroup(group, number) }
    }

    // MARK: - For runners

    /// The attempt's process runs as group `pgid`; a stop already asked for is delivered now.
    func started(processGroup pgid: Int32) {
        began()
        let pendingStop = state.withLock { state -> Bool in
            state.processGroup = pgid
            return state.reason != nil
        }
        if pendingStop { ProcessReactor.signalGroup(pgid, SIGTERM_VALUE) }
    }

    /// The attempt is over; later stops are ignored.
    func finished() {
        state.withLock {
            $0.isFinished = true
            $0.stopHandler = nil
        }
    }
}

/// Signal numbers on Linux, so code outside `System/` needs no Glibc.
public let SIGTERM_VALUE: Int32 = 15
public let SIGKILL_VALUE: Int32 = 9
