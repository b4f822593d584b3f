import JobdProtocol
import Synchronization

/// Wakes clients following a job's output (`logs -f`) when the job's log is written or the job ends,
/// instead of each polling the file (issue 13).
///
/// Each job has a generation that every change bumps: a follower reads the generation, then the file,
/// and waits for a newer generation; a write between its read and its wait is never missed.
final class OutputFollowers: Sendable {
    private struct Waiting {
        var generation: UInt64
        var continuations: [Int: CheckedContinuation<Void, Never>] = [:]
    }

    private struct State {
        var jobs: [JobID: Waiting] = [:]
        var nextToken = 0
    }

    private let state = Mutex(State())

    /// The job's generation now, from which on its changes are counted; pass it to
    /// ``wait(for:after:within:)`` after reading the file. Call ``stopFollowing(_:)`` when done.
    func generation(of id: JobID) -> UInt64 {
        state.withLock { state in
            if let waiting = state.jobs[id] { return waiting.generation }
            state.jobs[id] = Waiting(generation: 0)
            return 0
        }
    }

    /// A follower is done: a job nobody waits on any more keeps no entry.
    func stopFollowing(_ id: JobID) {
        state.withLock { state in
            if let waiting = state.jobs[id], waiting.continuations.isEmpty { state.jobs[id] = nil }
        }
    }

    /// The job's log was written, or the job ended: every follower of it wakes.
    func changed(_ id: JobID) {
        let woken = state.withLock { state -> [CheckedContinuation<Void, Never>] in
            guard var waiting = state.jobs[id] else {
                return []  // nobody follows it: nothing is kept for it
            }
            waiting.generation &+= 1
            let continuations = Array(waiting.continuations.values)
            waiting.continuations.removeAll()
            state.jobs[id] = waiting
            return continuations
        }
        for continuation in woken { continuation.resume() }
    }

    /// Returns once the job's generation has passed `seen`, or after `limit` (a last resort: an end that
    /// came before the follower registered), or when the task is cancelled.
    func wait(for id: JobID, after seen: UInt64, within limit: Duration) async {
        let token = state.withLock { state -> Int in
            state.nextToken += 1
            if state.jobs[id] == nil { state.jobs[id] = Waiting(generation: seen) }
            return state.nextToken
        }
        let timer = Task {
            try? await Task.sleep(for: limit)
            self.resume(id, token)
        }
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let now = state.withLock { state -> Bool in
                    guard let waiting = state.jobs[id], waiting.generation == seen else { return true }
                    state.jobs[id]?.continuations[token] = continuation
                    return false
                }
                if now { continuation.resume() }
            }
        } onCancel: {
            self.resume(id, token)
        }
        timer.cancel()
    }

    private func resume(_ id: JobID, _ token: Int) {
        state.withLock { $0.jobs[id]?.continuations.removeValue(forKey: token) }?.resume()
    }
}
