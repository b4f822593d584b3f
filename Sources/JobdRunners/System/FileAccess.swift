import CJobdSystem

/// Files a handler opens for a job, with the permissions of the job's submitter.
public enum FileAccess {
    /// Opens `path` for reading as `identity` (uid, gid and that user's groups) when given, else as this
    /// process. A root daemon must not read for a user what that user could not read.
    /// - Returns: the descriptor, or the reason it could not be opened.
    public static func openForReading(_ path: String, as identity: (uid: UInt32, gid: UInt32)?) -> Result<Int32, SystemError> {
        let fd = jobd_open_read_as(path, identity.map { Int64($0.uid) } ?? -1, identity.map { Int64($0.gid) } ?? -1)
        guard fd >= 0 else { return .failure(SystemError("cannot open \(path): \(errnoText(-fd))")) }
        return .success(fd)
    }
}
