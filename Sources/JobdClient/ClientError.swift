import JobdProtocol

/// Why a call did not get a reply it could use.
public enum ClientError: Error, CustomStringConvertible {
    /// Nothing accepts connections at the socket.
    case daemonUnreachable(path: String, reason: String)
    /// A daemon may be there, but this user may not connect to it (the socket or a directory on its way
    /// is not open to them).
    case notAllowed(path: String, reason: String)
    /// The daemon answered with an error it declares.
    case remote(JobdError)
    /// The daemon answered with an error this client does not know.
    case unknownRemoteError(name: String, parameters: [String: JSONValue])
    /// The reply was not what the protocol promises.
    case malformedReply(String)
    /// The daemon closed the connection before replying.
    case connectionClosed

    public var description: String {
        switch self {
        case .daemonUnreachable(let path, let reason):
            "cannot reach jobd at \(path) (\(reason)). Is it running? Start it with `make run` or "
                + "`systemctl --user start jobd`, or pass --socket / set JOBD_SOCKET."
        case .notAllowed(let path, let reason):
            "jobd's socket \(path) is not open to you (\(reason)): it serves another user, or its directory "
                + "is closed to you. Ask its administrator, run your own (`systemctl --user start jobd`), or pass "
                + "--socket / set JOBD_SOCKET."
        case .remote(let error): error.description
        case .unknownRemoteError(let name, let parameters): "jobd replied \(name) \(parameters)"
        case .malformedReply(let detail): "jobd sent a reply this jobctl cannot read: \(detail)"
        case .connectionClosed: "jobd closed the connection before replying (is it shutting down?)"
        }
    }
}
