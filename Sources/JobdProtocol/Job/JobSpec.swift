/// What a client asks to run: one element of `io.jobd.Submit`'s `jobs`.
///
/// Everything but the command is optional; the daemon fills in defaults and validates the rest
/// (see ``JobSpec/validate()``).
public struct JobSpec: Hashable, Sendable, Codable {
    /// `exec` (the default) or the name of a registered handler.
    public var kind: String?
    /// For `exec`: the command and its arguments. Never a shell string; run `sh -c` for that.
    public var argv: [String]?
    /// For `exec`: the whole environment. Absent: under a root daemon a clean one of the owner's (HOME,
    /// USER, LOGNAME, SHELL, PATH); under another, the daemon's own (docs/WORKERS.md).
    public var env: [String: String]?
    /// For `exec`: the working directory, entered as the owner. Absent: the owner's home, else `/`.
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
    /// Not before this time (the job is `scheduled` until then). Exclusive with `delaySeconds`.
    public var runAt: Timestamp?
    /// Not before this many seconds after the submit. Exclusive with `runAt`.
    public var delaySeconds: Double?
    /// How the pause before a retry grows; `exp` when absent.
    public var backoff: Backoff?
    /// The first pause before a retry (and every one, for `fixed`); 1 when absent.
    public var backoffSeconds: Double?
    /// While an unfinished job of the same owner has this key, a submit returns that job's id instead of
    /// storing a new one.
    public var uniqueKey: String?
    /// Jobs (by id) that must all succeed before this one runs.
    public var after: [JobID]?
    /// Earlier jobs of the same Submit call (by their index in `jobs`) that must all succeed first.
    public var afterIndex: [Int]?
    /// A shell command line (`sh -c`) run as a job of its own, by the same owner, when this job succeeds;
    /// its stdin is this job's JSON.
    public var onSuccess: String?
    /// The same, when this job fails or ends dead.
    public var onFailure: String?

    public init(
        kind: String? = nil, argv: [String]? = nil, env: [String: String]? = nil, cwd: String? = nil,
        payload: JSONValue? = nil, name: String? = nil, queue: String? = nil, class: JobClass? = nil,
        priority: Int? = nil, timeoutSeconds: Double? = nil, maxAttempts: Int? = nil, runAt: Timestamp? = nil,
        delaySeconds: Double? = nil, backoff: Backoff? = nil, backoffSeconds: Double? = nil, uniqueKey: String? = nil,
        after: [JobID]? = nil, afterIndex: [Int]? = nil, onSuccess: String? = nil, onFailure: String? = nil
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
        self.runAt = runAt
        self.delaySeconds = delaySeconds
        self.backoff = backoff
        self.backoffSeconds = backoffSeconds
        self.uniqueKey = uniqueKey
        self.after = after
        self.afterIndex = afterIndex
        self.onSuccess = onSuccess
        self.onFailure = onFailure
    }

    enum CodingKeys: String, CodingKey {
        case kind, argv, env, cwd, payload, name, queue, `class`, priority
        case timeoutSeconds = "timeout_seconds"
        case maxAttempts = "max_attempts"
        case runAt = "run_at"
        case delaySeconds = "delay_seconds"
        case backoff
        case backoffSeconds = "backoff_seconds"
        case uniqueKey = "unique_key"
        case after
        case afterIndex = "after_index"
        case onSuccess = "on_success"
        case onFailure = "on_failure"
    }

    /// Decodes a spec and **refuses fields it does not know**: a client that sends a field of a later
    /// jobd (`run_at`, say) must learn that this one would ignore it, not find out when the job runs.
    /// - Throws: `DecodingError.dataCorrupted` whose coding path ends in the unknown key, which the
    ///   daemon answers as `org.varlink.service.InvalidParameter` naming it (`jobs.0.run_at`).
    public init(from decoder: any Decoder) throws {
        // One pass over the keys present (a job names three or four of twenty): each is looked up once,
        // and an unknown one is met on the way. Decoding every field by name instead cost a lookup per
        // absent field and a second container, over a third of the daemon's CPU on a large Submit.
        let container = try decoder.container(keyedBy: AnyCodingKey.self)
        self.init()
        for key in container.allKeys {
            guard let field = CodingKeys(stringValue: key.stringValue) else {
                throw DecodingError.dataCorrupted(
                    .init(
                        codingPath: decoder.codingPath + [key],
                        debugDescription: "unknown JobSpec field \(key.stringValue); this jobd does not support it"))
            }
            func value<T: Decodable>(_ type: T.Type) throws -> T? { try container.decodeIfPresent(type, forKey: key) }
            // The decoder reports a number that is no Int (1e300, 1.5) as "not valid JSON" with no path;
            // rethrown here with the field's path, so the error names it (`jobs.0.priority`).
            func integer() throws -> Int? {
                do {
                    return try container.decodeIfPresent(Int.self, forKey: key)
                } catch {
                    throw DecodingError.dataCorrupted(
                        .init(codingPath: container.codingPath + [key], debugDescription: "\(key.stringValue) must be a whole number"))
                }
            }
            switch field {
            case .kind: kind = try value(String.self)
            case .argv: argv = try value([String].self)
            case .env: env = try value([String: String].self)
            case .cwd: cwd = try value(String.self)
            case .payload: payload = try value(JSONValue.self)
            case .name: name = try value(String.self)
            case .queue: queue = try value(String.self)
            case .class: self.class = try value(JobClass.self)
            case .priority: priority = try integer()
            case .timeoutSeconds: timeoutSeconds = try value(Double.self)
            case .maxAttempts: maxAttempts = try integer()
            case .runAt: runAt = try value(Timestamp.self)
            case .delaySeconds: delaySeconds = try value(Double.self)
            case .backoff: backoff = try value(Backoff.self)
            case .backoffSeconds: backoffSeconds = try value(Double.self)
            case .uniqueKey: uniqueKey = try value(String.self)
            case .after: after = try value([JobID].self)
            case .afterIndex: afterIndex = try value([Int].self)
            case .onSuccess: onSuccess = try value(String.self)
            case .onFailure: onFailure = try value(String.self)
            }
        }
    }

    /// The kind this spec resolves to.
    public var resolvedKind: String { kind ?? "exec" }

    /// ``validate()``, and the checks that need the daemon's clock: `run_at` at most a year ahead.
    public func validate(at now: Timestamp) -> String? {
        if let problem = validate() { return problem }
        if let runAt, runAt.secondsSinceEpoch - now.secondsSinceEpoch > JobLimits.maximumDelaySeconds {
            return "run_at \(runAt) is more than \(Int(JobLimits.maximumDelaySeconds / 86_400)) days ahead"
        }
        return nil
    }

    /// When a job submitted at `now` may first start: nil for at once.
    public func notBefore(submittedAt now: Timestamp) -> Timestamp? {
        let start = runAt ?? delaySeconds.map { Timestamp(secondsSinceEpoch: now.secondsSinceEpoch + $0) }
        guard let start, start > now else { return nil }
        return start
    }

    /// Checks what can be checked without the daemon's registry: every field against its range in
    /// ``JobLimits``, so nothing out of range is ever stored.
    /// - Returns: a sentence naming the field, its range and the value sent, or nil.
    public func validate() -> String? {
        if resolvedKind == "exec" {
            guard let argv, let first = argv.first else { return "an exec job needs a non-empty argv" }
            if first.isEmpty { return "argv[0] is empty" }
            if argv.count > JobLimits.maximumArgvCount {
                return "argv has \(argv.count) elements; at most \(JobLimits.maximumArgvCount) are allowed"
            }
            if argv.contains(where: { $0.utf8.contains(0) }) { return "argv contains a NUL byte" }
            if let env {
                if env.count > JobLimits.maximumEnvCount {
                    return "env has \(env.count) entries; at most \(JobLimits.maximumEnvCount) are allowed"
                }
                if env.contains(where: { $0.key.isEmpty || $0.key.contains("=") }) {
                    return "env names must be non-empty and contain no '='"
                }
                // A C string ends at NUL: the process would silently get a shorter name or value.
                if let entry = env.first(where: { $0.key.utf8.contains(0) }) {
                    return "env name \(Self.quoted(entry.key)) contains a NUL byte"
                }
                if let entry = env.first(where: { $0.value.utf8.contains(0) }) {
                    return "env value of \(Self.quoted(entry.key)) contains a NUL byte"
                }
            }
            if let cwd {
                if cwd.utf8.contains(0) { return "cwd contains a NUL byte" }
                if !cwd.hasPrefix("/") { return "cwd must be an absolute path, got \(Self.quoted(cwd))" }
                if cwd.utf8.count > JobLimits.maximumCwdBytes {
                    return "cwd is \(cwd.utf8.count) bytes; at most \(JobLimits.maximumCwdBytes) are allowed"
                }
            }
        } else if argv != nil {
            return "argv is only for exec jobs; a \(resolvedKind) job takes a payload"
        }
        if let name, name.utf8.count > JobLimits.maximumNameBytes {
            return "name is \(name.utf8.count) bytes; at most \(JobLimits.maximumNameBytes) are allowed"
        }
        if let queue, !JobLimits.isValidQueueName(queue) {
            return "queue must be \(JobLimits.queueNameBytes.lowerBound) to \(JobLimits.queueNameBytes.upperBound) "
                + "bytes of A-Z, a-z, 0-9, '.', '_' or '-', got \(Self.quoted(queue))"
        }
        if let priority, !JobLimits.priorityRange.contains(priority) {
            return "priority must be in \(JobLimits.priorityRange.lowerBound)...\(JobLimits.priorityRange.upperBound), "
                + "got \(priority)"
        }
        if let timeoutSeconds, !JobLimits.isValidTimeout(timeoutSeconds) {
            return "timeout_seconds must be in (0, \(Int(JobLimits.maximumTimeoutSeconds))] seconds, got \(timeoutSeconds)"
        }
        if let maxAttempts, !JobLimits.maxAttemptsRange.contains(maxAttempts) {
            return "max_attempts must be in \(JobLimits.maxAttemptsRange.lowerBound)...\(JobLimits.maxAttemptsRange.upperBound) "
                + "(jobd caps attempts so a failing job cannot retry without bound), got \(maxAttempts)"
        }
        if runAt != nil && delaySeconds != nil { return "give run_at or delay_seconds, not both" }
        if let delaySeconds, !(delaySeconds.isFinite && delaySeconds >= 0 && delaySeconds <= JobLimits.maximumDelaySeconds) {
            return "delay_seconds must be in [0, \(Int(JobLimits.maximumDelaySeconds))] seconds, got \(delaySeconds)"
        }
        if let runAt, !runAt.secondsSinceEpoch.isFinite {
            return "run_at must be a time"
        }
        if let uniqueKey {
            if !JobLimits.uniqueKeyBytes.contains(uniqueKey.utf8.count) {
                return "unique_key must be \(JobLimits.uniqueKeyBytes.lowerBound) to \(JobLimits.uniqueKeyBytes.upperBound) bytes, got \(uniqueKey.utf8.count)"
            }
            if uniqueKey.unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7f }) {
                return "unique_key contains a control character"
            }
        }
        for (field, hook) in [("on_success", onSuccess), ("on_failure", onFailure)] {
            guard let hook else { continue }
            if hook.isEmpty || hook.utf8.count > JobLimits.maximumHookBytes {
                return "\(field) must be 1 to \(JobLimits.maximumHookBytes) bytes, got \(hook.utf8.count)"
            }
            if hook.utf8.contains(0) { return "\(field) contains a NUL byte" }
        }
        let dependencies = (after?.count ?? 0) + (afterIndex?.count ?? 0)
        if dependencies > JobLimits.maximumDependencies {
            return "after and after_index name \(dependencies) jobs; at most \(JobLimits.maximumDependencies) are allowed"
        }
        if let bad = after?.first(where: { !JobLimits.idRange.contains($0.rawValue) }) {
            return "after holds \(bad), which is no job id (ids start at 1)"
        }
        if let backoffSeconds, !(backoffSeconds.isFinite && JobLimits.backoffSecondsRange.contains(backoffSeconds)) {
            return "backoff_seconds must be in [0, \(Int(JobLimits.backoffSecondsRange.upperBound))] seconds, got \(backoffSeconds)"
        }
        return nil
    }

    /// A value quoted for an error message, cut short: the message must not echo a megabyte back.
    private static func quoted(_ text: String) -> String {
        let shown = text.unicodeScalars.count > 64 ? String(String.UnicodeScalarView(text.unicodeScalars.prefix(64))) + "..." : text
        return "\"" + shown.unicodeScalars.map { $0.value < 0x20 ? "\\u{\(String($0.value, radix: 16))}" : String($0) }.joined() + "\""
    }
}

/// Any key of a JSON object, to list the keys a decoder was given.
private struct AnyCodingKey: CodingKey {
    var stringValue: String
    var intValue: Int? { nil }
    init(stringValue: String) { self.stringValue = stringValue }
    init?(intValue: Int) { nil }
}
