import JobdProtocol

/// A kind of job that runs as Swift code: a name, the class it declares, and an async `run` from a JSON
/// payload to a JSON result.
///
/// Adding one is a type and one line in ``HandlerRegistry/builtIn``. The daemon runs an I/O-class job of
/// a handler as a task of its own; a worker runs a CPU-class one in its own process. Both find the
/// handler in the same registry, because a worker is the daemon's own executable.
public protocol JobHandler: Sendable {
    /// The `kind` a job names to run this handler.
    var kind: String { get }
    /// The class its jobs get when the submitter gives no hint; nil lets the other rules decide.
    var declaredClass: JobClass? { get }
    /// Checks a payload at submit time, so a bad one is refused before it is stored.
    /// - Returns: a sentence saying what is wrong, or nil.
    func validate(_ payload: JSONValue) -> String?
    /// Runs one attempt. Cancellation (a cancel, a timeout, a shutdown) arrives as task cancellation:
    /// check `context.isCancelled` in long loops.
    func run(_ payload: JSONValue, context: HandlerContext) async throws(HandlerError) -> JSONValue
}

extension JobHandler {
    public func validate(_ payload: JSONValue) -> String? { nil }
}

/// A handler whose code makes blocking calls (file reads, a library with no async API). Its `run` is
/// given a thread of the blocking pool, never one of the cooperative pool (DESIGN §4, the role of
/// Python's `asyncio.to_thread`). Conforming to this protocol is how a handler says so when it registers.
public protocol BlockingJobHandler: JobHandler {
    func runBlocking(_ payload: JSONValue, context: HandlerContext) throws(HandlerError) -> JSONValue
}

extension BlockingJobHandler {
    public func run(_ payload: JSONValue, context: HandlerContext) async throws(HandlerError) -> JSONValue {
        try await BlockingPool.shared.run { () throws(HandlerError) -> JSONValue in
            try runBlocking(payload, context: context)
        }
    }
}
