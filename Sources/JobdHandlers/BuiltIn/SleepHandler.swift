import JobdProtocol

/// Waits `{"seconds": N}` without holding a thread: a stand-in for slow I/O in tests and benchmarks.
public struct SleepHandler: JobHandler {
    public init() {}
    public var kind: String { "sleep" }
    public var declaredClass: JobClass? { .io }

    public func validate(_ payload: JSONValue) -> String? {
        guard let seconds = payload["seconds"]?.doubleValue, seconds >= 0, seconds.isFinite else {
            return "a sleep job's payload is {\"seconds\": N} with N >= 0"
        }
        return nil
    }

    public func run(_ payload: JSONValue, context: HandlerContext) async throws(HandlerError) -> JSONValue {
        let seconds = payload["seconds"]?.doubleValue ?? 0
        // validate() lets any finite N through; 1e300 s would trap converting to Int64 milliseconds, in the
        // daemon or a worker, and again at every restart. A century is forever here.
        let milliseconds = seconds.isFinite ? Int64(max(0, min(seconds, 100 * 365 * 86_400)) * 1000) : 0
        do {
            try await Task.sleep(for: .milliseconds(milliseconds))
        } catch {
            throw .cancelled
        }
        return .object(["slept_seconds": .double(seconds)])
    }
}
