import DequeModule
import Synchronization

/// How many calls of one user may build and send a large reply at once (`List`, `Wait`'s records, `Get`,
/// `Schedules`, `Attempts`, `Profiles`); the user's next such call waits for one of theirs to be sent.
///
/// **What unread replies hold is bounded per user** (found in review, issue 18: ten connections that sent
/// `List {"limit":100}` over 1 MB jobs and never read held 1.44 GB until they closed; 256 per user were
/// allowed). A reply is built whole (up to `--max-reply-bytes`) and handed to the socket in chunks that
/// wait for the client to read; with two slots a user's connections hold at most two such replies, and a
/// connection whose reply waits reads no next call. Other users' calls never wait for these slots.
final class ReplySlots: Sendable {
    /// Large replies one user may have in progress at once.
    static let perUser = 2

    private struct Waiter {
        let token: Int
        let continuation: CheckedContinuation<Void, Never>
    }

    private struct State {
        var held: [UInt32: Int] = [:]
        var waiting: [UInt32: Deque<Waiter>] = [:]
        var nextToken = 0
    }

    private let state = Mutex(State())

    /// Runs `body` holding one of `uid`'s slots, waiting for one first if they are all held.
    /// - Throws: `CancellationError` if the call is cancelled while it waits (its client went away), or
    ///   what `body` throws.
    func withSlot<T>(for uid: UInt32, _ body: () async throws -> T) async throws -> T {
        try await acquire(uid)
        defer { release(uid) }
        return try await body()
    }

    private func acquire(_ uid: UInt32) async throws {
        let token = state.withLock { state -> Int? in
            if state.held[uid, default: 0] < Self.perUser {
                state.held[uid, default: 0] += 1
                return nil
            }
            state.nextToken += 1
            return state.nextToken
        }
        guard let token else { return }
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let granted = state.withLock { state -> Bool in
                    // A slot freed (or a cancel came) between the two locks: take it now.
                    if state.held[uid, default: 0] < Self.perUser || Task.isCancelled {
                        state.held[uid, default: 0] += 1
                        return true
                    }
                    state.waiting[uid, default: []].append(Waiter(token: token, continuation: continuation))
                    return false
                }
                if granted { continuation.resume() }
            }
        } onCancel: {
            // Leaves the queue holding a slot, which `release` below gives back.
            let waiter = state.withLock { state -> Waiter? in
                guard var queue = state.waiting[uid], let index = queue.firstIndex(where: { $0.token == token }) else {
                    return nil
                }
                let waiter = queue.remove(at: index)
                state.waiting[uid] = queue.isEmpty ? nil : queue
                state.held[uid, default: 0] += 1
                return waiter
            }
            waiter?.continuation.resume()
        }
        if Task.isCancelled {
            release(uid)
            throw CancellationError()
        }
    }

    private func release(_ uid: UInt32) {
        let next = state.withLock { state -> Waiter? in
            if var queue = state.waiting[uid], let first = queue.popFirst() {
                state.waiting[uid] = queue.isEmpty ? nil : queue
                return first  // the slot passes to it as it is
            }
            let left = state.held[uid, default: 1] - 1
            state.held[uid] = left > 0 ? left : nil
            return nil
        }
        next?.continuation.resume()
    }
}
