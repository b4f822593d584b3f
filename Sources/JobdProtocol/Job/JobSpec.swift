/// What a client asks to run: one element of `io.jobd.Submit`'s `jobs`.
///
/// Everything but the command is optional; the daemon fills in defaults and validates the rest
/// (see ``JobSpec/validate()``).
public struct JobSpec: Hashable, Sendable, Codable {
    /// `exec` (the default) or the name of a registered handler.
    public var kind: String?
    /// For `exec`: the command and its arguments. Never a shell string; run `sh -c` for that.
    public var argv: [String]?
    /// For `exec`: the environment. Absent: the daemon's own environment.
    public var env: [String: String]?
    /// For `exec`: the working directory. Absent: the daemon's.
    public var cwd: String?
    /// For handlers: their input.
    public var payload: JSONValue?
    /// A label shown by `list` and `show`.
    public var name: String?
    /// The queue; `default` when absent.
    public var queue: String?
    /// The submitter's class hint; it wins over every other rule.
    public var `class`: JobClass?
    /// Higher runs first; 0 when absent.
    public var priority: Int?
    /// Kill the attempt after this many seconds.
    public var timeoutSeconds: Double?
    /// Attempts before the job ends `dead`; 1 when absent.
    public var maxAttempts: Int?

    public init(
        kind: String? = nil, argv: [String]? = nil, env: [String: String]? = nil, cwd: String? = nil,
        payload: JSONValue? = nil, name: String? = nil, queue: String? = nil, class: JobClass? = nil,
        priority: Int? = nil, timeoutSeconds: Double? = nil, maxAttempts: Int? = nil
    ) {
        self.kind = kind
        self.argv = argv
        self.env = env
        self.cwd = cwd
        self.payload = payload
        self.name = name
        self.queue = queue
        self.class = `class`
        self.priority = priority
        self.timeoutSeconds = timeoutSeconds
        self.maxAttempts = maxAttempts
    }

    enum CodingKeys: String, CodingKey {
        case kind, argv, env, cwd, payload, name, queue, `class`, priority
        case timeoutSeconds = "timeout_seconds"
        case maxAttempts = "max_attempts"
    }

    /// The kind this spec resolves to.
    public var resolvedKind: String { kind ?? "exec" }

    /// Checks what can be checked without the daemon's registry.
    /// - Returns: a sentence saying what is wrong, or nil.
    public func validate() -> String? {
        if resolvedKind == "exec" {
            guard let argv, let first = argv.first else { return "an exec job needs a non-empty argv" }
            if first.isEmpty { return "argv[0] is empty" }
            if argv.contains(where: { $0.utf8.contains(0) }) { return "argv contains a NUL byte" }
            if let env, env.contains(where: { $0.key.isEmpty || $0.key.contains("=") }) {
                return "env names must be non-empty and contain no '='"
            }
        } else if argv != nil {
            return "argv is only for exec jobs; a \(resolvedKind) job takes a payload"
        }
        if let queue, queue.isEmpty { return "queue name is empty" }
        if let timeoutSeconds, !(timeoutSeconds > 0) { return "timeout_seconds must be positive" }
        if let maxAttempts, maxAttempts < 1 { return "max_attempts must be at least 1" }
        return nil
    }
}
