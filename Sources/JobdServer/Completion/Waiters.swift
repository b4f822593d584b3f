import JobdProtocol

/// The clients waiting for jobs to end (`io.jobd.Wait`), by job. Held by the dispatcher and touched only
/// on its actor: a waiter is resumed once, when the last of its jobs has finished or the daemon stops.
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

    /// Waits for every one of `ids` (each still active) to finish; resumed with false if the daemon drained
    /// first. - Returns: the token that ``cancel(_:)`` takes.
    mutating func add(_ ids: [JobID], _ continuation: CheckedContinuation<Bool, Never>) -> Int {
        let token = nextToken
        nextToken += 1
        let waiter = Waiter(remaining: ids.count, continuation: continuation) { [token] in token }
        for id in ids { byJob[id, default: []].append(waiter) }
        byToken[token] = (waiter, ids)
        return token
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
    private let continuation: CheckedContinuation<Bool, Never>
    let token: Int

    init(remaining: Int, continuation: CheckedContinuation<Bool, Never>, token: () -> Int) {
        self.remaining = remaining
        self.continuation = continuation
        self.token = token()
    }

    /// - Returns: whether that was its last job (it has been resumed).
    func oneFinished() -> Bool {
        guard remaining > 0 else { return false }
        remaining -= 1
        if remaining == 0 { continuation.resume(returning: true) }
        return remaining == 0
    }

    /// The daemon stops before the last job finished; resumes the client once, however many of its jobs
    /// list it.
    func shuttingDown() {
        guard remaining > 0 else { return }
        remaining = 0
        continuation.resume(returning: false)
    }
}
