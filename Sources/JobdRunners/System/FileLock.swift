import CJobdSystem
import Glibc

/// An exclusive advisory lock on a file, held until the process exits or `release()`.
///
/// jobd locks `<database>.lock` so that two daemons never write one database.
public final class FileLock: Sendable {
    private let descriptor: Int32
    public let path: String

    /// Takes the lock without waiting. The corresponding C function is `flock`.
    /// - Throws: `FileLockError.held` when another process holds it.
    public init(path: String) throws(FileLockError) {
        let result = jobd_lock_file(path)
        if result == -EWOULDBLOCK { throw .held(path: path) }
        if result < 0 { throw .cannotOpen(path: path, reason: errnoText(-result)) }
        self.descriptor = result
        self.path = path
    }

    /// Gives the lock up.
    public func release() { close(descriptor) }
}

/// Why a lock file could not be taken.
public enum FileLockError: Error, CustomStringConvertible {
    case held(path: String)
    case cannotOpen(path: String, reason: String)

    public var description: String {
        switch self {
        case .held(let path): "\(path) is held by another jobd. Stop it, or pass --database to use another file."
        case .cannotOpen(let path, let reason): "cannot open \(path): \(reason)"
        }
    }
}
