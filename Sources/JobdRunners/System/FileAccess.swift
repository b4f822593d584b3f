import Glibc
import CJobdSystem

/// Files a handler opens for a job, with the permissions of the job's submitter.
public enum FileAccess {
    /// Opens the regular file `path` for reading as `identity` (uid, gid and that user's groups) when
    /// given, else as this process. A root daemon must not read for a user what that user could not read.
    /// A FIFO, socket or device is refused without blocking: opening one can wait forever.
    /// The corresponding C function is `open`.
    /// - Returns: the descriptor, or the reason it could not be opened.
    public static func openForReading(_ path: String, as identity: Identity?) -> Result<Int32, SystemError> {
        let fd = jobd_open_read_as(path, identity.map { Int64($0.uid) } ?? -1, identity.map { Int64($0.gid) } ?? -1)
        if fd == -JOBD_NOT_REGULAR {
            return .failure(SystemError("cannot open \(path): not a regular file (a FIFO, socket or device is refused)"))
        }
        guard fd >= 0 else { return .failure(SystemError("cannot open \(path): \(errnoText(-fd))")) }
        return .success(fd)
    }

    /// Closes a descriptor `openForReading` gave. The corresponding C function is `close`.
    public static func close(_ fd: Int32) {
        _ = Glibc.close(fd)
    }
}
