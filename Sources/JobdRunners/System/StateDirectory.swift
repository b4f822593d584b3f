import Glibc

/// A directory jobd keeps its state in (the database's, the job logs, the process ledger).
///
/// **jobd refuses a state directory another user can write** (found in review, issue 18): in a
/// world-writable directory, even a sticky one, another user can create the files jobd is about to
/// create, and a link there (`logs/1.log -> /etc/shadow`) would have a root daemon append a job's output
/// to a file of someone else's choosing.
public enum StateDirectory {
    /// Why a directory cannot hold jobd's state.
    public struct Refusal: Error, CustomStringConvertible {
        public let path: String
        public let reason: String

        public var description: String {
            "cannot keep jobd's state in \(path): \(reason). Use a directory only jobd's user can write "
                + "(for instance --database /var/lib/jobd/jobd.db, or a directory of your own)"
        }
    }

    /// Creates `path` and any missing parents (0700 for what it creates), or checks the one there: a
    /// directory of the daemon's own uid (or root's), that neither its group nor others may write.
    /// The corresponding C functions are `mkdir` and `stat`.
    public static func prepare(_ path: String) throws(Refusal) {
        var components: [Substring] = []
        for part in path.split(separator: "/", omittingEmptySubsequences: true) {
            components.append(part)
            let prefix = (path.hasPrefix("/") ? "/" : "") + components.joined(separator: "/")
            if mkdir(prefix, 0o700) != 0 && errno != EEXIST {
                throw Refusal(path: path, reason: "mkdir \(prefix): \(errnoText(errno))")
            }
        }
        var info = stat()
        guard stat(path, &info) == 0 else { throw Refusal(path: path, reason: errnoText(errno)) }
        guard info.st_mode & S_IFMT == S_IFDIR else { throw Refusal(path: path, reason: "it is not a directory") }
        let me = getuid()
        guard info.st_uid == me || info.st_uid == 0 else {
            throw Refusal(path: path, reason: "it belongs to uid \(info.st_uid), not to jobd's uid \(me)")
        }
        guard info.st_mode & 0o022 == 0 else {
            let mode = String(info.st_mode & 0o7777, radix: 8)
            throw Refusal(path: path, reason: "other users may write it (mode \(mode))")
        }
    }

    /// ``prepare(_:)`` for the directory that holds `file`.
    public static func prepare(parentOf file: String) throws(Refusal) {
        let parts = file.split(separator: "/", omittingEmptySubsequences: false).dropLast()
        let directory = parts.joined(separator: "/")
        try prepare(directory.isEmpty ? (file.hasPrefix("/") ? "/" : ".") : directory)
    }
}
