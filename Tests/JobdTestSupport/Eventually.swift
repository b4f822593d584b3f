/// A condition that did not come true in time; says what was expected and what was last seen.
public struct TimedOut: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// Polls `probe` until it returns a value, or fails after `limit` — never a bare sleep and hope.
@discardableResult
public func eventually<T>(
    _ what: String, within limit: Duration = .seconds(5), _ probe: () async throws -> T?
) async throws -> T {
    let deadline = ContinuousClock.now + limit
    var lastError: (any Error)?
    while ContinuousClock.now < deadline {
        do {
            if let value = try await probe() { return value }
        } catch {
            lastError = error
        }
        try await Task.sleep(for: .milliseconds(20))
    }
    throw TimedOut("\(what) did not happen within \(limit)" + (lastError.map { "; last error: \($0)" } ?? ""))
}

/// Runs `body`, failing with `TimedOut` if it takes longer than `limit`: a test that waits on the daemon
/// must fail with a message, never hang the whole run.
public func withDeadline<T: Sendable>(
    _ what: String, within limit: Duration = .seconds(30), _ body: @escaping @Sendable () async throws -> T
) async throws -> T {
    try await withThrowingTaskGroup(of: T?.self) { group in
        group.addTask { try await body() }
        group.addTask {
            try await Task.sleep(for: limit)
            return nil
        }
        let first = try await group.next()!
        group.cancelAll()
        guard let first else { throw TimedOut("\(what) did not finish within \(limit)") }
        return first
    }
}
