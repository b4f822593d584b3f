import JobdClient
import JobdProtocol

/// jobctl's exit codes: sysexits(3) values for its own failures, so scripts can tell them apart from
/// most jobs' exit codes. Documented in `jobctl --help` and the README.
enum ExitStatus {
    static let cancelled: Int32 = 130
    static let usage: Int32 = 64  // EX_USAGE, ArgumentParser's for a bad command line
    static let invalid: Int32 = 65  // EX_DATAERR
    static let notFound: Int32 = 66  // EX_NOINPUT
    static let unavailable: Int32 = 69  // EX_UNAVAILABLE
    static let software: Int32 = 70  // EX_SOFTWARE
    static let temporary: Int32 = 75  // EX_TEMPFAIL
    static let denied: Int32 = 77  // EX_NOPERM

    static func code(for error: ClientError) -> Int32 {
        switch error {
        case .daemonUnreachable, .connectionClosed: unavailable
        case .notAllowed: denied
        case .malformedReply, .unknownRemoteError: software
        case .remote(let error):
            switch error {
            case .jobNotFound, .profileNotFound, .scheduleNotFound: notFound
            case .invalidJob, .invalidParameter, .jobFinished, .replyTooLarge: invalid
            case .permissionDenied: denied
            case .shuttingDown, .storageFailed, .tooManyConnections: temporary
            case .methodNotFound, .interfaceNotFound, .methodNotImplemented: software
            }
        }
    }

    /// What `wait` exits with for one finished job: 0 on success, its exit code if it has one, 1 if it
    /// failed without one, 130 if it was cancelled.
    static func code(for end: JobEnd) -> Int32 {
        switch end.state {
        case .succeeded: return 0
        case .cancelled: return cancelled
        default:
            if let code = end.exitCode, code != 0 { return Int32(truncatingIfNeeded: code) }
            return 1
        }
    }

    /// For several jobs: 0 only if all succeeded, else the code of the first that did not, in order.
    static func code(for ends: [JobEnd]) -> Int32 {
        ends.lazy.map(code(for:)).first { $0 != 0 } ?? 0
    }
}
