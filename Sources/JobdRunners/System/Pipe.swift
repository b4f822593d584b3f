import CJobdSystem
import Glibc

/// A pipe whose both ends close on exec (`pipe2(O_CLOEXEC)`): a spawned process gets an end only by
/// having it dup'ed onto its stdin or stdout.
public struct Pipe: Sendable {
    public let readEnd: Int32
    public let writeEnd: Int32

    public init() throws(SystemError) {
        var fds: [Int32] = [-1, -1]
        let error = jobd_pipe(&fds, 0)
        guard error == 0 else { throw SystemError("cannot create a pipe: \(errnoText(error))") }
        readEnd = fds[0]
        writeEnd = fds[1]
    }

    /// Closes one descriptor. The corresponding C function is `close`.
    public static func close(_ fd: Int32) {
        _ = Glibc.close(fd)
    }
}

/// A system call failed; the text names the call and the reason.
public struct SystemError: Error, CustomStringConvertible, Sendable {
    public let description: String
    public init(_ description: String) { self.description = description }
}
