/// An error that crosses the wire: it names its varlink error and carries that error's parameters.
public protocol ReplyError: Error, Sendable, CustomStringConvertible {
    /// The qualified varlink error name, e.g. `io.jobd.JobNotFound`.
    var varlinkName: String { get }
    /// The error's parameters, as declared in the interface.
    var varlinkParameters: [String: JSONValue] { get }
}

/// Every error jobd's interface declares, plus the `org.varlink.service` ones it uses.
public enum JobdError: ReplyError, Hashable {
    /// No job has this id, or it belongs to another user.
    case jobNotFound(JobID)
    /// Cancel of a job that has already finished.
    case jobFinished(JobID, JobState)
    /// The `index`th job of a submit is invalid; nothing of that call was stored.
    case invalidJob(index: Int, reason: String)
    /// The caller may not do this (e.g. an exec job for a daemon of another user).
    case permissionDenied(String)
    /// No profile has this signature.
    case profileNotFound(String)
    /// The caller has no schedule of that name.
    case scheduleNotFound(String)
    /// The daemon is stopping and takes no new work; retry against the next instance.
    case shuttingDown
    /// The database refused a write (full disk, read-only file, ...). Nothing was stored.
    case storageFailed(String)
    /// The reply would pass the daemon's bound (`jobd --max-reply-bytes`); `reason` says how to ask instead.
    case replyTooLarge(limit: Int, reason: String)
    /// The connection was refused: the daemon, or this user, holds as many as it allows. Try again later.
    case tooManyConnections(String)
    /// The method is not part of any interface jobd serves.
    case methodNotFound(String)
    /// A parameter is missing, of the wrong type, or out of range.
    case invalidParameter(String)
    /// The interface asked for is not served here.
    case interfaceNotFound(String)
    /// The call asked for something jobd does not support (e.g. `upgrade`).
    case methodNotImplemented(String)

    public var varlinkName: String {
        switch self {
        case .jobNotFound: "io.jobd.JobNotFound"
        case .jobFinished: "io.jobd.JobFinished"
        case .invalidJob: "io.jobd.InvalidJob"
        case .permissionDenied: "io.jobd.PermissionDenied"
        case .profileNotFound: "io.jobd.ProfileNotFound"
        case .scheduleNotFound: "io.jobd.ScheduleNotFound"
        case .shuttingDown: "io.jobd.ShuttingDown"
        case .storageFailed: "io.jobd.StorageFailed"
        case .replyTooLarge: "io.jobd.ReplyTooLarge"
        case .tooManyConnections: "io.jobd.TooManyConnections"
        case .methodNotFound: "org.varlink.service.MethodNotFound"
        case .invalidParameter: "org.varlink.service.InvalidParameter"
        case .interfaceNotFound: "org.varlink.service.InterfaceNotFound"
        case .methodNotImplemented: "org.varlink.service.MethodNotImplemented"
        }
    }

    public var varlinkParameters: [String: JSONValue] {
        switch self {
        case .jobNotFound(let id): ["id": .int(id.rawValue)]
        case .jobFinished(let id, let state): ["id": .int(id.rawValue), "state": .string(state.rawValue)]
        case .invalidJob(let index, let reason): ["index": .int(Int64(index)), "reason": .string(reason)]
        case .permissionDenied(let reason): ["reason": .string(reason)]
        case .profileNotFound(let signature): ["signature": .string(signature)]
        case .scheduleNotFound(let name): ["name": .string(name)]
        case .shuttingDown: [:]
        case .storageFailed(let reason): ["reason": .string(reason)]
        case .replyTooLarge(let limit, let reason): ["limit": .int(Int64(limit)), "reason": .string(reason)]
        case .tooManyConnections(let reason): ["reason": .string(reason)]
        case .methodNotFound(let method): ["method": .string(method)]
        case .invalidParameter(let parameter): ["parameter": .string(parameter)]
        case .interfaceNotFound(let interface): ["interface": .string(interface)]
        case .methodNotImplemented(let method): ["method": .string(method)]
        }
    }

    public var description: String {
        switch self {
        case .jobNotFound(let id): "no job \(id) (it never existed, was pruned, or belongs to another user)"
        case .jobFinished(let id, let state): "job \(id) has already finished (\(state.rawValue))"
        case .invalidJob(let index, let reason):
            // Not "job 1": that reads as job id 1 (issue 18). The index is the job's place in the call.
            index == 0
                ? "the request's first job is invalid: \(reason)"
                : "the request's job at index \(index) (counting from 0) is invalid: \(reason)"
        case .permissionDenied(let reason): "permission denied: \(reason)"
        case .profileNotFound(let signature): "no profile for \(signature) (see jobctl profiles)"
        case .scheduleNotFound(let name): "you have no schedule \(name) (see jobctl schedule list)"
        case .shuttingDown: "jobd is shutting down; submit again once it is back"
        case .storageFailed(let reason): "jobd could not store the change: \(reason)"
        case .replyTooLarge(let limit, let reason): "the reply would pass jobd's limit of \(limit) bytes: \(reason)"
        case .tooManyConnections(let reason): "jobd refused the connection: \(reason)"
        case .methodNotFound(let method): "jobd has no method \(method)"
        case .invalidParameter(let parameter): "invalid parameter: \(parameter)"
        case .interfaceNotFound(let interface): "jobd does not serve the interface \(interface)"
        case .methodNotImplemented(let method): "jobd does not implement \(method) as called"
        }
    }

    /// Rebuilds the error from a reply, for the client side. Unknown names keep their name.
    public init?(name: String, parameters: [String: JSONValue]) {
        // Never `Int64(aDouble)`: an id near Int64.max read back as a Double is out of range, and a trap
        // here took `jobctl show 9223372036854775807` down.
        let id = JobID(parameters["id"]?.int64Value ?? 0)
        switch name {
        case "io.jobd.JobNotFound": self = .jobNotFound(id)
        case "io.jobd.JobFinished":
            self = .jobFinished(id, parameters["state"]?.stringValue.flatMap(JobState.init) ?? .succeeded)
        case "io.jobd.InvalidJob":
            self = .invalidJob(
                index: (parameters["index"]?.int64Value).flatMap { Int(exactly: $0) } ?? 0, reason: parameters["reason"]?.stringValue ?? "")
        case "io.jobd.PermissionDenied": self = .permissionDenied(parameters["reason"]?.stringValue ?? "")
        case "io.jobd.ProfileNotFound": self = .profileNotFound(parameters["signature"]?.stringValue ?? "")
        case "io.jobd.ScheduleNotFound": self = .scheduleNotFound(parameters["name"]?.stringValue ?? "")
        case "io.jobd.ShuttingDown": self = .shuttingDown
        case "io.jobd.StorageFailed": self = .storageFailed(parameters["reason"]?.stringValue ?? "")
        case "io.jobd.TooManyConnections": self = .tooManyConnections(parameters["reason"]?.stringValue ?? "")
        case "io.jobd.ReplyTooLarge":
            self = .replyTooLarge(
                limit: (parameters["limit"]?.int64Value).flatMap { Int(exactly: $0) } ?? 0,
                reason: parameters["reason"]?.stringValue ?? "")
        case "org.varlink.service.MethodNotFound": self = .methodNotFound(parameters["method"]?.stringValue ?? "")
        case "org.varlink.service.InvalidParameter":
            self = .invalidParameter(parameters["parameter"]?.stringValue ?? "")
        case "org.varlink.service.InterfaceNotFound":
            self = .interfaceNotFound(parameters["interface"]?.stringValue ?? "")
        case "org.varlink.service.MethodNotImplemented":
            self = .methodNotImplemented(parameters["method"]?.stringValue ?? "")
        default: return nil
        }
    }
}
