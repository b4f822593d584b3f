import JobdProtocol

/// What a job's `kind` names: `exec`, which spawns a command and has a runner of its own, or a handler.
public enum JobKind: Sendable {
    case exec
    case handler(any JobHandler)

    /// The class the kind declares; `exec` declares none (its class is learned or hinted).
    public var declaredClass: JobClass? {
        switch self {
        case .exec: nil
        case .handler(let handler): handler.declaredClass
        }
    }
}

/// The kinds this jobd runs, by name. The daemon and its workers build the same one.
public struct HandlerRegistry: Sendable {
    public static let execKind = "exec"

    private var handlers: [String: any JobHandler] = [:]

    public init(_ handlers: [any JobHandler]) {
        for handler in handlers {
            precondition(handler.kind != Self.execKind && handlers.filter { $0.kind == handler.kind }.count == 1,
                "handler kind \(handler.kind) is registered twice")
            self.handlers[handler.kind] = handler
        }
    }

    /// The handlers jobd ships. Register one more by adding it here.
    public static let builtIn = HandlerRegistry([
        NoopHandler(),
        SleepHandler(),
        SHA256FileHandler(),
    ])

    public func kind(named name: String) -> JobKind? {
        if name == Self.execKind { return .exec }
        return handlers[name].map { .handler($0) }
    }

    /// Whether the handler of that name blocks (a ``BlockingJobHandler``): the daemon then runs its I/O-class
    /// jobs in a process of their own, never on its own threads.
    public func blocks(_ name: String) -> Bool {
        handlers[name] is any BlockingJobHandler
    }

    /// Every kind's name, `exec` first, for error messages.
    public var names: [String] { [Self.execKind] + handlers.keys.sorted() }
}
