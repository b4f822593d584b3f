import CJobdSystem
import Glibc
import JobdProtocol

/// An exclusive advisory lock on a file, held until the process exits or `release()`.
///
/// jobd locks `<database>.lock` so that two daemons never write one database.
public final class FileLock: Sendable {
    private let descriptor: Int32
    public let path: String

    /// Takes the lock without waiting. The corresponding C function is `flock`.
    /// - Throws: `FileLockError.held` (without a holder: finding it costs a scan of /proc) when another
    ///   process holds it.
    public init(path: String) throws(FileLockError) {
        let result = jobd_lock_file(path)
        if result == -EWOULDBLOCK { throw .held(path: path, holder: nil, waited: .zero) }
        if result < 0 { throw .cannotOpen(path: path, reason: errnoText(-result)) }
        self.descriptor = result
        self.path = path
    }

    /// Takes the lock, retrying every 50 ms for up to `limit` while another process holds it.
    ///
    /// Why wait: after a kill -9 the lock outlives the daemon for as long as any process holds a copy of its
    /// descriptor (flock belongs to the open file description) — a job process between vfork and exec, or
    /// the old daemon still being torn down. Under systemd a quick restart after a crash is the normal case,
    /// and it must not fail for that.
    /// - Parameter waiting: called once, with the holder's pid if /proc/locks names it, when the first try
    ///   finds the lock held.
    /// - Throws: `FileLockError.held` naming the holder when it is still held after `limit`.
    public static func acquire(
        path: String, waitingUpTo limit: Duration, waiting: (Int32?) -> Void
    ) async throws(FileLockError) -> FileLock {
        let deadline = ContinuousClock.now + limit
        var announced = false
        while true {
            do {
                return try FileLock(path: path)
            } catch .held(let path, _, _) {
                guard ContinuousClock.now < deadline else {
                    throw .held(path: path, holder: holder(of: path), waited: limit)
                }
                if !announced {
                    waiting(holder(of: path))
                    announced = true
                }
                do {
                    try await Task.sleep(for: .milliseconds(50))
                } catch {
                    throw .held(path: path, holder: holder(of: path), waited: limit)
                }
            } catch {
                throw error
            }
        }
    }

    /// Gives the lock up.
    public func release() { close(descriptor) }

    /// A process that holds the lock: the one /proc/locks names for a FLOCK on the file's inode (the one
    /// that took it) if it is still alive, else the first process with a descriptor open on the file (a
    /// child that inherited it: /proc/locks then shows pid 0), or nil if neither is found.
    /// The corresponding C function is `stat`; /proc/locks lines read `1: FLOCK ADVISORY WRITE PID MAJ:MIN:INODE 0 EOF`.
    static func holder(of path: String) -> Int32? {
        var info = stat()
        guard stat(path, &info) == 0 else { return nil }
        if let taker = lockTaker(device: UInt64(info.st_dev), inode: UInt64(info.st_ino)), taker > 0,
            kill(taker, 0) == 0 || errno == EPERM
        {
            return taker
        }
        return processWithOpenFile(device: UInt64(info.st_dev), inode: UInt64(info.st_ino))
    }

    private static func lockTaker(device: UInt64, inode: UInt64) -> Int32? {
        let major = ((device >> 8) & 0xfff) | ((device >> 32) & ~UInt64(0xfff))
        let minor = (device & 0xff) | ((device >> 12) & ~UInt64(0xff))
        let id = hex2(major) + ":" + hex2(minor) + ":" + String(inode)
        guard let text = readFile("/proc/locks") else { return nil }
        for line in text.split(separator: "\n") {
            let fields = line.split(separator: " ", omittingEmptySubsequences: true)
            // A "->" after the number marks a waiter, not a holder: its fields are shifted by one.
            guard fields.count >= 6, fields[1] == "FLOCK", fields[5] == id else { continue }
            return Int32(fields[4])
        }
        return nil
    }

    /// Scans /proc/PID/fd/N of every process for the file (`stat` follows each link to its inode).
    private static func processWithOpenFile(device: UInt64, inode: UInt64) -> Int32? {
        guard let processes = opendir("/proc") else { return nil }
        defer { closedir(processes) }
        let me = getpid()
        while let entry = readdir(processes) {
            guard let pid = Int32(name(of: entry)), pid != me, let fds = opendir("/proc/\(pid)/fd") else { continue }
            defer { closedir(fds) }
            while let fd = readdir(fds) {
                var info = stat()
                let fdName = name(of: fd)
                guard fdName.first != ".", stat("/proc/\(pid)/fd/\(fdName)", &info) == 0 else { continue }
                if UInt64(info.st_dev) == device && UInt64(info.st_ino) == inode { return pid }
            }
        }
        return nil
    }

    private static func name(of entry: UnsafeMutablePointer<dirent>) -> String {
        withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
    }

    private static func hex2(_ value: UInt64) -> String {
        let text = String(value, radix: 16)
        return text.count < 2 ? "0" + text : text
    }

    /// The whole of a small /proc file (/proc/locks is one line per lock on the machine).
    private static func readFile(_ path: String) -> String? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 64 * 1024)
        while true {
            let count = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if count < 0 && errno == EINTR { continue }
            guard count > 0 else { break }
            bytes += chunk[0..<count]
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}

/// Why a lock file could not be taken.
public enum FileLockError: Error, CustomStringConvertible {
    /// Another process holds it; `holder` is its pid when /proc/locks names one, `waited` how long we tried.
    case held(path: String, holder: Int32?, waited: Duration)
    /// The lock file could not be opened or created.
    case cannotOpen(path: String, reason: String)

    public var description: String {
        switch self {
        case .held(let path, let holder, let waited):
            "\(path) is held by another jobd\(holder.map { " (pid \($0))" } ?? "")"
                + (waited > .zero ? " and was not released within \(waited.inSeconds)s" : "")
                + ". Stop it, or pass --database to use another file."
        case .cannotOpen(let path, let reason): "cannot open \(path): \(reason)"
        }
    }
}
