/// Runs async operations one at a time, in the order they arrive.
///
/// For a read-modify-write that spans awaits (read a queue's limit and pause, store both, apply them):
/// the dispatcher is an actor, but an actor lets other calls in at each await, so two operators changing
/// one queue at once could each write back what the other had not yet stored. Written by hand: the
/// package list has no async mutex, and this is a queue of continuations.
actor SerialGate {
    private var isBusy = false
    private var waiting: [CheckedContinuation<Void, Never>] = []

    func run<T: Sendable>(_ body: @Sendable () async throws -> T) async rethrows -> T {
        if isBusy {
            await withCheckedContinuation { waiting.append($0) }
        }
        isBusy = true
        defer {
            if waiting.isEmpty {
                isBusy = false
            } else {
                waiting.removeFirst().resume()  // handed straight on: isBusy stays set for it
            }
        }
        return try await body()
    }
}
