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

/// Something that had to wait happened too early.
public struct HappenedTooEarly: Error, CustomStringConvertible {
    public let description: String
}

/// Throws if `condition` becomes true within `period`: for "this must not happen yet", checked for a
/// while rather than once, so a wrong early wake-up has time to show.
public func staysFalse(
    _ what: String, for period: Duration = .milliseconds(300), _ condition: () async throws -> Bool
) async throws {
    let deadline = ContinuousClock.now + period
    while ContinuousClock.now < deadline {
        if try await condition() { throw HappenedTooEarly(description: "\(what) happened too early") }
        try await Task.sleep(for: .milliseconds(10))
    }
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
