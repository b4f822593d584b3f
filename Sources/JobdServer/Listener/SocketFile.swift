import Foundation
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
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
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

    /// Lets every local user connect (the socket file is created from the umask, 0755).
    static func makeConnectable(_ path: String) {
        try? FileManager.default.setAttributes([.posixPermissions: 0o666], ofItemAtPath: path)
    }

    static func remove(_ path: String) {
        try? FileManager.default.removeItem(atPath: path)
    }
}
