import JobdProtocol

/// Waits `{"seconds": N}` without holding a thread: a stand-in for slow I/O in tests and benchmarks.
public struct SleepHandler: JobHandler {
    public init() {}
    public var kind: String { "sleep" }
    public var declaredClass: JobClass? { .io }

    public func validate(_ payload: JSONValue) -> String? {
        guard let seconds = payload["seconds"]?.doubleValue else {
            return "a sleep job's payload is {\"seconds\": N} with N in [0, \(Int(JobLimits.maximumSleepSeconds))]"
        }
        guard seconds.isFinite, seconds >= 0, seconds <= JobLimits.maximumSleepSeconds else {
            return "seconds must be in [0, \(Int(JobLimits.maximumSleepSeconds))], got \(seconds)"
        }
        return nil
    }

    public func run(_ payload: JSONValue, context: HandlerContext) async throws(HandlerError) -> JSONValue {
        let seconds = payload["seconds"]?.doubleValue ?? 0
        do {
            // Checked, not `Int64(seconds * 1000)`: a payload stored by an older jobd was never range-checked.
            try await Task.sleep(for: .seconds(checked: seconds))
        } catch {
            throw .cancelled
        }
        return .object(["slept_seconds": .double(seconds)])
    }
}
