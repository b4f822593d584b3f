import JobdProtocol
import JobdHandlers

/// One attempt of a job: what to run, as whom, with which limits. The one shape every runner reads —
/// the exec runner, the handler runner and the worker pool, whose `run` frame carries it whole — built
/// once from the stored job (`JobPlan`). A field a runner needs is added here and nowhere else.
public struct Attempt: Sendable, Hashable, Codable {
    /// What the attempt runs.
    public enum Work: Sendable, Hashable, Codable {
        /// A command, resolved on the owner's PATH as it starts.
        case exec(argv: [String])
        /// A built-in handler (`HandlerRegistry`), by name, with its JSON payload.
        case handler(name: String, payload: JSONValue)
    }

    public var job: JobID
    public var work: Work
    /// The job's environment; nil: a clean one for its owner under a root daemon, else the daemon's.
    public var environment: [String: String]?
    public var cwd: String?
    /// Run as this user (a root daemon, another user's job); nil keeps the runner's own identity.
    public var identity: Identity?
    /// Where stdout and stderr (or a handler's output) are appended.
    public var outputPath: String
    /// What this attempt may still append: the limit holds for the job's whole log, across attempts.
    public var outputLimit: Int64
    public var timeout: Duration?
    /// A file whose contents are the command's stdin (a hook's job reads the finished job's JSON); nil:
    /// /dev/null.
    public var stdinPath: String?

    public init(
        job: JobID, work: Work, environment: [String: String]? = nil, cwd: String? = nil, identity: Identity? = nil,
        outputPath: String, outputLimit: Int64, timeout: Duration? = nil, stdinPath: String? = nil
    ) {
        self.job = job
        self.work = work
        self.environment = environment
        self.cwd = cwd
        self.identity = identity
        self.outputPath = outputPath
        self.outputLimit = outputLimit
        self.timeout = timeout
        self.stdinPath = stdinPath
    }

    /// Whether it runs a command (rather than a handler).
    public var isExec: Bool {
        if case .exec = work { return true }
        return false
    }
}

/// The user and group an attempt runs as.
public struct Identity: Sendable, Hashable, Codable {
    public var uid: UInt32
    public var gid: UInt32

    public init(uid: UInt32, gid: UInt32) {
        self.uid = uid
        self.gid = gid
    }

    /// Whom a job of this owner runs as here: only a daemon running as root may (and must) take on its
    /// submitter's identity; root's own jobs, and every job of a non-root daemon, keep the daemon's.
    public static func runningJob(ownedBy uid: UInt32, group gid: UInt32) -> Identity? {
        guard SystemInfo.userID == 0, uid != 0 else { return nil }
        return Identity(uid: uid, gid: gid)
    }
}

extension Attempt {
    /// The attempt of a stored job: the one place a job's fields become what runs. Its `outputLimit` is
    /// the whole limit; the dispatcher lowers it to what the log has room for as each attempt starts.
    public init(_ job: Job, logsDirectory: String, outputLimit: Int64) {
        self.init(
            job: job.id,
            work: job.kind == HandlerRegistry.execKind
                ? .exec(argv: job.argv ?? []) : .handler(name: job.kind, payload: job.payload),
            environment: job.env, cwd: job.cwd, identity: Identity.runningJob(ownedBy: job.ownerUID, group: job.ownerGID),
            outputPath: OutputLog.path(of: job.id, in: logsDirectory), outputLimit: outputLimit,
            // A stored row may predate the range check: clamped, never trapped on.
            timeout: job.timeoutSeconds.map { Duration.seconds(checked: $0) },
            stdinPath: job.hookOf == nil ? nil : OutputLog.stdinPath(of: job.id, in: logsDirectory))
    }
}
