import JobdProtocol

/// The clients waiting for jobs to end (`io.jobd.Wait`), by job. Held by the dispatcher and touched only
/// on its actor: a waiter is resumed once, when the last of its jobs has finished or the daemon stops.
///
/// A waiter is registered before the store is read for its jobs' states (``add(_:)``), and attached to
/// its client afterwards (``attach(_:_:)``): a job that ends between the two is counted either by the read
/// (``finished(_:for:)``) or by the end itself (``finished(_:)``), never missed.
struct Waiters {
    private var byJob: [JobID: [Waiter]] = [:]
    /// Each waiting client's waiter, by token, with the jobs it waits for: a client that goes away takes
    /// its waiter out of every job's list at once (issue 18: 50,000 ids per Wait held 1.5 GB until the
    /// jobs ended).
    private var byToken: [Int: (waiter: Waiter, ids: [JobID])] = [:]
    private var nextToken = 0
    /// Told of every job that ends (the followers of its output wake).
    var onFinished: @Sendable (JobID) -> Void = { _ in }

    /// How many clients wait.
    var count: Int { byToken.count }

    /// Registers a wait for every one of `ids`. - Returns: the token the other calls take.
    mutating func add(_ ids: [JobID]) -> Int {
        let token = nextToken
        nextToken += 1
        let waiter = Waiter(remaining: ids.count, token: token)
        for id in ids { byJob[id, default: []].append(waiter) }
        byToken[token] = (waiter, ids)
        return token
    }

    /// Resumes `continuation` when the waiter's jobs have all finished (at once if they have): true, or
    /// false if the daemon drained first or the waiter was cancelled.
    mutating func attach(_ token: Int, _ continuation: CheckedContinuation<Bool, Never>) {
        guard let (waiter, _) = byToken[token] else { return continuation.resume(returning: false) }
        if waiter.attach(continuation) { byToken[token] = nil }
    }

    /// The store says `id` has finished already (or does not exist): it counts for this waiter alone.
    mutating func finished(_ id: JobID, for token: Int) {
        guard let (waiter, _) = byToken[token], var list = byJob[id], let index = list.firstIndex(where: { $0 === waiter })
        else { return }
        list.remove(at: index)
        byJob[id] = list.isEmpty ? nil : list
        if waiter.oneFinished() { byToken[token] = nil }
    }

    /// A client went away: its waiter goes from every list and is resumed (false) once.
    mutating func cancel(_ token: Int) {
        guard let (waiter, ids) = byToken.removeValue(forKey: token) else { return }
        for id in ids {
            guard var list = byJob[id] else { continue }
            list.removeAll { $0 === waiter }
            byJob[id] = list.isEmpty ? nil : list
        }
        waiter.shuttingDown()
    }

    /// The job's final state has committed.
    mutating func finished(_ id: JobID) {
        onFinished(id)
        for waiter in byJob.removeValue(forKey: id) ?? [] {
            if waiter.oneFinished() { byToken[waiter.token] = nil }
        }
    }

    /// Nothing more finishes in this daemon: every client still waiting is told so instead of hanging.
    mutating func answerAllAtShutdown() {
        let pending = byToken
        byJob.removeAll()
        byToken.removeAll()
        for (waiter, _) in pending.values { waiter.shuttingDown() }
    }
}

/// One client's Wait: resumed when the last of its jobs has finished.
private final class Waiter {
    private var remaining: Int
    private var continuation: CheckedContinuation<Bool, Never>?
    /// How it ended before a client was attached: true all finished, false the daemon drained.
    private var result: Bool?
    let token: Int

    init(remaining: Int, token: Int) {
        self.remaining = remaining
        self.token = token
        if remaining == 0 { result = true }
    }

    /// - Returns: whether it is over (resumed now).
    func attach(_ continuation: CheckedContinuation<Bool, Never>) -> Bool {
        if let result {
            continuation.resume(returning: result)
            return true
        }
        self.continuation = continuation
        return false
    }

    /// - Returns: whether that was its last job and its client has been resumed (one not attached yet
    ///   is resumed as it attaches, and stays listed by token until then).
    func oneFinished() -> Bool {
        guard remaining > 0 else { return false }
        remaining -= 1
        guard remaining == 0 else { return false }
        return end(true)
    }

    /// The daemon stops before the last job finished; resumes the client once, however many of its jobs
    /// list it.
    func shuttingDown() {
        guard remaining > 0 else { return }
        remaining = 0
        _ = end(false)
    }

    /// - Returns: whether a client was resumed.
    private func end(_ value: Bool) -> Bool {
        guard let continuation else {
            result = value
            return false
        }
        self.continuation = nil
        continuation.resume(returning: value)
        return true
    }
}
