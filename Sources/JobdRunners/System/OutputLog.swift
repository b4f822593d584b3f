import JobdProtocol
import Glibc
import Synchronization

/// Reads a job's captured output file.
public enum OutputLog {
    /// Where a job's output is kept: one file per job, every attempt appended.
    public static func path(of job: JobID, in logsDirectory: String) -> String {
        "\(logsDirectory)/\(job).log"
    }

    /// Where a hook's job finds its stdin (the finished job's JSON), beside its log.
    public static func stdinPath(of job: JobID, in logsDirectory: String) -> String {
        "\(logsDirectory)/\(job).stdin"
    }

    /// Up to `limit` bytes from `offset`, and the file's size now (0 if it does not exist yet).
    /// The corresponding C functions are `open`, `fstat` and `pread`.
    public static func read(path: String, from offset: Int64, limit: Int) -> (bytes: [UInt8], size: Int64) {
        let fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)
        guard fd >= 0 else { return ([], 0) }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0 else { return ([], 0) }
        let size = Int64(info.st_size)
        let count = Int(max(0, min(Int64(limit), size - offset)))
        guard count > 0 else { return ([], size) }
        var bytes = [UInt8](repeating: 0, count: count)
        let got = bytes.withUnsafeMutableBytes { pread(fd, $0.baseAddress, $0.count, off_t(offset)) }
        return (Array(bytes.prefix(max(0, got))), size)
    }

    /// The file's size in bytes now; 0 if it does not exist (or cannot be seen).
    /// The corresponding C function is `stat`.
    public static func size(path: String) -> Int64 {
        var info = stat()
        guard stat(path, &info) == 0 else { return 0 }
        return Int64(info.st_size)
    }

    /// What an attempt may still append to a job's log and its index: the output limit holds for the
    /// job's whole log, across its attempts, so a job retried in a loop cannot fill the disk a limit at a
    /// time. Stat once, as the attempt starts: only one attempt of a job appends at a time.
    public static func room(path: String, limit: Int64) -> Int64 {
        max(0, limit - size(path: path) - size(path: OutputIndex.path(besideLog: path)))
    }

    /// Writes `bytes` to a new file at `path` (mode 0600, replaced if it exists): a hook's stdin.
    /// The corresponding C functions are `unlink`, `open` and `write`.
    /// - Returns: nil, or why it could not be written.
    public static func write(_ bytes: [UInt8], to path: String) -> String? {
        _ = remove(path: path)
        let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o600)
        guard fd >= 0 else { return errnoText(errno) }
        defer { close(fd) }
        var rest = bytes[...]
        while !rest.isEmpty {
            let written = rest.withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
            if written < 0 && errno == EINTR { continue }
            guard written > 0 else { return errnoText(errno) }
            rest = rest.dropFirst(written)
        }
        return nil
    }

    /// Removes a file of a job's (a pruned job's log, index or stdin); one already gone is not an error.
    /// The corresponding C function is `unlink`.
    /// - Returns: nil, or why the file is still there.
    @discardableResult
    public static func remove(path: String) -> String? {
        while unlink(path) != 0 {
            if errno == EINTR { continue }
            if errno == ENOENT { return nil }
            return errnoText(errno)
        }
        return nil
    }
}

/// Appends a handler's output to its job's log (as stdout: a handler has one output), up to a limit; the
/// files are created at the first byte. Thread-safe: a handler may write from any thread.
public final class OutputAppender: Sendable {
    private let writer: Mutex<OutputWriter>

    public init(path: String, limit: Int64) {
        writer = Mutex(OutputWriter(logPath: path, indexPath: OutputIndex.path(besideLog: path), limit: limit))
    }

    public func append(_ bytes: [UInt8]) {
        writer.withLock { writer in bytes.withUnsafeBytes { writer.append($0, from: .stdout) } }
    }

    /// Closes the files; later appends are dropped (the attempt is over).
    public func close() {
        writer.withLock { $0.close() }
    }

    deinit { close() }
}
