import JobdProtocol

/// Does nothing and returns null: the cost of a job itself, for tests and benchmarks.
public struct NoopHandler: JobHandler {
    public init() {}
    public var kind: String { "noop" }
    public var declaredClass: JobClass? { .io }

    public func run(_ payload: JSONValue, context: HandlerContext) async throws(HandlerError) -> JSONValue {
        .null
    }
}
