import JobdProtocol

/// The clients waiting for jobs to end (`io.jobd.Wait`), by job. Held by the dispatcher and touched only
/// on its actor: a waiter is resumed once, when the last of its jobs has finished or the daemon stops.
struct Waiters {
    private var byJob: [JobID: [Waiter]] = [:]
    /// Told of every job that ends (the followers of its output wake).
    var onFinished: @Sendable (JobID) -> Void = { _ in }

    /// Waits for every one of `ids` (each still active) to finish. - Returns: false if the daemon drained first.
    mutating func add(_ ids: [JobID], _ continuation: CheckedContinuation<Bool, Never>) {
        let waiter = Waiter(remaining: ids.count, continuation: continuation)
        for id in ids { byJob[id, default: []].append(waiter) }
    }

    /// The job's final state has committed.
    mutating func finished(_ id: JobID) {
        onFinished(id)
        for waiter in byJob.removeValue(forKey: id) ?? [] { waiter.oneFinished() }
    }

    /// Nothing more finishes in this daemon: every client still waiting is told so instead of hanging.
    mutating func answerAllAtShutdown() {
        let pending = byJob
        byJob.removeAll()
        for waiter in pending.values.joined() { waiter.shuttingDown() }
    }
}

/// One client's Wait: resumed when the last of its jobs has finished.
private final class Waiter {
    private var remaining: Int
    private let continuation: CheckedContinuation<Bool, Never>

    init(remaining: Int, continuation: CheckedContinuation<Bool, Never>) {
        self.remaining = remaining
        self.continuation = continuation
    }

    func oneFinished() {
        guard remaining > 0 else { return }
        remaining -= 1
        if remaining == 0 { continuation.resume(returning: true) }
    }

    /// The daemon stops before the last job finished; resumes the client once, however many of its jobs
    /// list it.
    func shuttingDown() {
        guard remaining > 0 else { return }
        remaining = 0
        continuation.resume(returning: false)
    }
}
