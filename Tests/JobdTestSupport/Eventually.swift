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
