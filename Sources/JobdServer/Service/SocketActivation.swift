import JobdRunners

/// The listening socket systemd passed at start (sd_listen_fds(3)), when jobd is socket-activated:
/// `$LISTEN_PID` is our pid and `$LISTEN_FDS` counts descriptors from 3 on.
///
/// With `Accept=no`, systemd listens while jobd is not running and hands the very same socket over, so
/// a client that connected before jobd started is in its backlog and is answered once jobd serves.
public enum SocketActivation {
    /// The first descriptor systemd passes (`SD_LISTEN_FDS_START`).
    static let firstDescriptor: Int32 = 3

    /// The variables systemd sets for this process alone: unset once read, so jobs and workers do not
    /// take the socket as theirs.
    public static let environmentVariables = ["LISTEN_PID", "LISTEN_FDS", "LISTEN_FDNAMES"]

    /// Why the passed descriptors cannot be served.
    public enum Problem: Error, CustomStringConvertible {
        /// Several descriptors, none named for jobd.
        case ambiguous(names: [String])
        /// The chosen descriptor is not a listening Unix stream socket.
        case notAUnixListener(Int32)
        /// fstat or getsockopt failed.
        case unusable(SystemError)

        public var description: String {
            switch self {
            case .ambiguous(let names):
                "systemd passed \(names.count) sockets (\(names.joined(separator: ", "))) and none is named jobd or jobd.socket. Give jobd's ListenStream= its own .socket unit, or FileDescriptorName=jobd."
            case .notAUnixListener(let fd):
                "the descriptor systemd passed (\(fd)) is not a listening Unix stream socket. jobd.socket needs ListenStream=/path and Accept=no."
            case .unusable(let error):
                "the socket systemd passed is unusable: \(error)"
            }
        }
    }

    /// The descriptor to serve, nil when jobd was not socket-activated (then it binds `--socket` itself).
    /// - Throws: `Problem` when descriptors were passed to this process but none can be served.
    public static func listeningDescriptor(environment: [String: String], processID: Int32) throws(Problem) -> Int32? {
        guard let pid = environment["LISTEN_PID"].flatMap({ Int32($0) }), pid == processID,
            let count = environment["LISTEN_FDS"].flatMap({ Int32($0) }), count >= 1, count < 1024
        else { return nil }
        var fd = firstDescriptor
        if count > 1 {
            let names = (environment["LISTEN_FDNAMES"] ?? "").split(separator: ":", omittingEmptySubsequences: false)
                .map(String.init)
            guard let index = names.firstIndex(where: { $0 == "jobd" || $0 == "jobd.socket" }), index < count else {
                throw .ambiguous(names: names)
            }
            fd = firstDescriptor + Int32(index)
        }
        switch InheritedDescriptor.isListeningUnixSocket(fd) {
        case .failure(let error): throw .unusable(error)
        case .success(false): throw .notAUnixListener(fd)
        case .success(true): break
        }
        // systemd passes it without FD_CLOEXEC; a job must not inherit the daemon's listening socket.
        if let error = InheritedDescriptor.setCloseOnExec(fd) { throw .unusable(error) }
        return fd
    }
}
