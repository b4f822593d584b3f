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
    /// directory of the daemon's own uid (or root's), that neither its group nor others may write, **and
    /// every directory on the way to it** (found in review, issue 18: with the database under a directory
    /// another user owned, they swapped its `db` for one with `logs -> /etc/logrotate.d`). On the way, a
    /// directory others may write is allowed only when it is root's and sticky (`/tmp`): nobody else may
    /// rename or remove what is in it; and a symbolic link must be root's or jobd's own.
    /// The corresponding C functions are `mkdir`, `lstat`, `stat` and `realpath`.
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
        try checkOwnedAndClosed(path, info, isTheDirectory: true, refusing: path)
        // Every directory on the way, as written (its links included) and as it resolves.
        let absolute = path.hasPrefix("/") ? path : currentDirectory() + "/" + path
        try checkAncestors(of: absolute, refusing: path)
        if let resolved = realPath(absolute), resolved != absolute { try checkAncestors(of: resolved, refusing: path) }
    }

    private static func checkAncestors(of path: String, refusing: String) throws(Refusal) {
        var prefix = ""
        let parts = path.split(separator: "/", omittingEmptySubsequences: true).dropLast()
        for part in [Substring("")] + parts {
            prefix = part.isEmpty ? "/" : (prefix == "/" ? "/" : prefix + "/") + part
            var link = stat()
            guard lstat(prefix, &link) == 0 else { throw Refusal(path: refusing, reason: "\(prefix): \(errnoText(errno))") }
            if link.st_mode & S_IFMT == S_IFLNK, link.st_uid != 0, link.st_uid != getuid() {
                throw Refusal(path: refusing, reason: "\(prefix) is a link of uid \(link.st_uid), who could point it elsewhere")
            }
            var info = stat()
            guard stat(prefix, &info) == 0 else { throw Refusal(path: refusing, reason: "\(prefix): \(errnoText(errno))") }
            try checkOwnedAndClosed(prefix, info, isTheDirectory: false, refusing: refusing)
        }
    }

    /// A directory of root's or jobd's uid that no one else may write into (a root-owned sticky one on the
    /// way excepted).
    private static func checkOwnedAndClosed(_ path: String, _ info: stat, isTheDirectory: Bool, refusing: String) throws(Refusal) {
        let me = getuid()
        let subject = isTheDirectory ? "it" : path
        guard info.st_uid == me || info.st_uid == 0 else {
            throw Refusal(path: refusing, reason: "\(subject) belongs to uid \(info.st_uid), not to jobd's uid \(me) or root")
        }
        let writableByOthers = info.st_mode & 0o022 != 0
        let rootsSticky = info.st_uid == 0 && info.st_mode & S_ISVTX != 0
        guard !writableByOthers || (!isTheDirectory && rootsSticky) else {
            let mode = String(info.st_mode & 0o7777, radix: 8)
            throw Refusal(path: refusing, reason: "\(isTheDirectory ? "other users may write it" : "other users may write \(path)") (mode \(mode))")
        }
    }

    private static func currentDirectory() -> String {
        var buffer = [CChar](repeating: 0, count: 4096)
        guard getcwd(&buffer, buffer.count) != nil else { return "/" }
        return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    private static func realPath(_ path: String) -> String? {
        guard let resolved = realpath(path, nil) else { return nil }
        defer { free(resolved) }
        return String(cString: resolved)
    }

    /// ``prepare(_:)`` for the directory that holds `file`.
    public static func prepare(parentOf file: String) throws(Refusal) {
        let parts = file.split(separator: "/", omittingEmptySubsequences: false).dropLast()
        let directory = parts.joined(separator: "/")
        try prepare(directory.isEmpty ? (file.hasPrefix("/") ? "/" : ".") : directory)
    }
}
