import Foundation
import JobdRunners
import NIOCore
import NIOPosix

/// Prepares the socket path before binding: its directory exists, and a file left by a dead daemon is
/// removed — but a socket some live jobd still answers on is never taken over.
enum SocketFile {
    enum Problem: Error, CustomStringConvertible {
        case inUse(String)
        case cannotPrepare(String, any Error)

        var description: String {
            switch self {
            case .inUse(let path):
                "another jobd is already serving \(path). Stop it first, or pass --socket to use another path."
            case .cannotPrepare(let path, let error):
                "cannot prepare the socket \(path): \(error). Check that its directory is writable, or pass --socket."
            }
        }
    }

    static func prepare(_ path: String, group: any EventLoopGroup) async throws {
        let directory = URL(fileURLWithPath: path).deletingLastPathComponent()
        do {
            // A directory we create is ours alone unless we are root (see makeConnectable); a root daemon's
            // is 0755, whatever jobd's umask (077) would make it, or no other user could reach the socket.
            let attributes: [FileAttributeKey: Any] = [.posixPermissions: isRoot ? 0o755 : 0o700]
            try FileManager.default.createDirectory(
                at: directory, withIntermediateDirectories: true, attributes: attributes)
        } catch {
            throw Problem.cannotPrepare(path, error)
        }
        guard FileManager.default.fileExists(atPath: path) else { return }
        // Someone answers: a live daemon. Refused or not a socket: a stale file from a dead one.
        let isLive: Bool
        do {
            let channel = try await ClientBootstrap(group: group).connect(unixDomainSocketPath: path).get()
            try? await channel.close()
            isLive = true
        } catch {
            isLive = false
        }
        if isLive { throw Problem.inUse(path) }
        do {
            try FileManager.default.removeItem(atPath: path)
        } catch {
            throw Problem.cannotPrepare(path, error)
        }
    }

    /// Sets who may connect. A root daemon lets every local user connect (0666) and authorises each call
    /// from the peer's uid. A daemon of any other user serves only that user (Responder refuses the rest),
    /// so its socket is 0600, in a directory it created 0700: other users cannot even connect.
    static func makeConnectable(_ path: String) {
        try? FileManager.default.setAttributes([.posixPermissions: isRoot ? 0o666 : 0o600], ofItemAtPath: path)
    }

    private static var isRoot: Bool { SystemInfo.userID == 0 }

    static func remove(_ path: String) {
        try? FileManager.default.removeItem(atPath: path)
    }
}
