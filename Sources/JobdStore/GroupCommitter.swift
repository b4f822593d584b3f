import GRDB
import Logging
import Synchronization

/// The single writer: writes that arrive while one transaction commits share the next one (group commit).
///
/// A write that fails (a constraint) rolls back alone; the others in its group commit. A caller's `write` returns only after its group has committed: one fsync serves
/// thousands of submits. Writes are applied in the order they were enqueued.
final class GroupCommitter: Sendable {
    private struct Pending: Sendable {
        let apply: @Sendable (Database) throws -> Void
        let committed: @Sendable (Result<Void, any Error>) -> Void
    }

    private struct State {
        var pending: [Pending] = []
        var isClosed = false
    }

    private let writer: any DatabaseWriter
    private let state = Mutex(State())
    private let wakeups: AsyncStream<Void>
    private let wake: AsyncStream<Void>.Continuation
    private let logger: Logger
    /// Told after each group that commits (the WAL checkpointer follows commits).
    private let afterCommit: @Sendable () -> Void

    init(writer: any DatabaseWriter, logger: Logger, afterCommit: @escaping @Sendable () -> Void = {}) {
        self.writer = writer
        self.logger = logger
        self.afterCommit = afterCommit
        (wakeups, wake) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
    }

    /// Runs `body` in the next group and returns its value once that group has committed.
    func write<T: Sendable>(_ body: @escaping @Sendable (Database) throws -> T) async throws -> T {
        try await enqueue("write", body).committed()
    }

    /// Queues `body` for the next group now, and returns a ticket to await its commit later. Writes queued
    /// after this one (by any caller) are applied after it.
    func enqueue<Value: Sendable>(
        _ what: String, _ body: @escaping @Sendable (Database) throws -> Value
    ) -> CommitTicket<Value> {
        let ticket = CommitTicket<Value>()
        let box = Mutex<Value?>(nil)
        enqueue(
            Pending(
                apply: { db in
                    let value = try body(db)
                    box.withLock { $0 = value }
                },
                committed: { result in
                    ticket.complete(
                        result.flatMap {
                            box.withLock { $0 }.map { .success($0) }
                                ?? .failure(StoreError.inconsistent("a committed write left no value"))
                        })
                }))
        return ticket
    }

    /// Queues `body` for the next group without waiting; a failure is logged.
    func writeLater(_ what: String, _ body: @escaping @Sendable (Database) throws -> Void) {
        let logger = logger
        enqueue(
            Pending(
                apply: body,
                committed: { result in
                    if case .failure(let error) = result {
                        logger.error("write failed: \(what): \(StoreError.describe(error))")
                    }
                }))
    }

    private func enqueue(_ pending: Pending) {
        let accepted = state.withLock { state -> Bool in
            guard !state.isClosed else { return false }
            state.pending.append(pending)
            return true
        }
        if accepted { wake.yield() } else { pending.committed(.failure(StoreError.closed)) }
    }

    /// Commits groups until `close()`; then commits what is left and returns.
    func run() async {
        for await _ in wakeups {
            await commitPending()
        }
        await commitPending()
    }

    /// Stops taking writes; `run()` returns after committing those already queued.
    func close() {
        state.withLock { $0.isClosed = true }
        wake.finish()
    }

    private func commitPending() async {
        while true {
            let group = state.withLock { state -> [Pending] in
                defer { state.pending.removeAll(keepingCapacity: true) }
                return state.pending
            }
            if group.isEmpty { return }
            let outcomes: [Result<Void, any Error>]
            do {
                outcomes = try await writer.write { db in
                    // Optimistic: one transaction with no savepoints, which costs two statements per write.
                    // If any write fails, the whole group is rolled back and replayed, each write in its own
                    // savepoint, so one bad write never takes the others down with it.
                    do {
                        try db.inSavepoint {
                            for pending in group { try pending.apply(db) }
                            return .commit
                        }
                        return Array(repeating: .success(()), count: group.count)
                    } catch {
                        return group.map { pending in
                            Result {
                                try db.inSavepoint {
                                    try pending.apply(db)
                                    return .commit
                                }
                            }
                        }
                    }
                }
            } catch {
                // The commit itself failed (disk full, I/O error): nothing of this group was stored.
                logger.error("group commit of \(group.count) writes failed: \(StoreError.describe(error))")
                for pending in group { pending.committed(.failure(StoreError.writeFailed(cause: error))) }
                continue
            }
            afterCommit()
            for (pending, outcome) in zip(group, outcomes) { pending.committed(outcome) }
        }
    }
}

/// A write that has been queued; `committed()` returns once its group has committed, with what the write
/// found (the jobs a finish moved along with its own, say).
public final class CommitTicket<Value: Sendable>: Sendable {
    private enum State {
        case pending([CheckedContinuation<Value, any Error>])
        case done(Result<Value, any Error>)
    }

    private let state = Mutex(State.pending([]))

    public init() {}

    /// Returns when the write has committed. - Throws: why it did not.
    @discardableResult
    public func committed() async throws -> Value {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Value, any Error>) in
            let result = state.withLock { state -> Result<Value, any Error>? in
                switch state {
                case .pending(var waiters):
                    waiters.append(continuation)
                    state = .pending(waiters)
                    return nil
                case .done(let result):
                    return result
                }
            }
            if let result { continuation.resume(with: result) }
        }
    }

    public func complete(_ result: Result<Value, any Error>) {
        let waiters = state.withLock { state -> [CheckedContinuation<Value, any Error>] in
            guard case .pending(let waiters) = state else { return [] }
            state = .done(result)
            return waiters
        }
        for waiter in waiters { waiter.resume(with: result) }
    }
}
