import NIOCore

/// Who is on the other end of a connection, from the kernel (`SO_PEERCRED`), never from the request.
public struct Caller: Hashable, Sendable {
    public var pid: Int32
    public var uid: UInt32
    public var gid: UInt32

    /// Root sees and controls every job; anyone else only their own.
    public var isRoot: Bool { uid == 0 }

    /// Whether this caller may see and control a job owned by `uid`.
    public func mayAccess(jobOwnedBy owner: UInt32) -> Bool { isRoot || owner == uid }
}

/// `struct ucred` from <sys/socket.h>, which Swift's Glibc module does not export (../shared/PLATFORM.md).
struct PeerCredentials: Sendable {
    var pid: Int32 = 0
    var uid: UInt32 = 0
    var gid: UInt32 = 0
}

extension NIOBSDSocket.Option {
    /// `SO_PEERCRED`: 17 on every Linux architecture but parisc, sparc and powerpc, which jobd does not target.
    static let peerCredentials = NIOBSDSocket.Option(rawValue: 17)
}

extension Channel {
    /// The peer's credentials; the channel must be a connected Unix socket.
    func peerCredentials() -> EventLoopFuture<Caller> {
        guard let provider = self as? any SocketOptionProvider else {
            return eventLoop.makeFailedFuture(ChannelError.operationUnsupported)
        }
        return provider.unsafeGetSocketOption(level: .socket, name: .peerCredentials).map { (credentials: PeerCredentials) in
            Caller(pid: credentials.pid, uid: credentials.uid, gid: credentials.gid)
        }
    }
}
