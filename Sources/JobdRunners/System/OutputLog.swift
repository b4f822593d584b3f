import Glibc

/// Reads a job's captured output file.
public enum OutputLog {
    /// Up to `limit` bytes from `offset`, and the file's size now (0 if it does not exist yet).
    /// The corresponding C functions are `open`, `fstat` and `pread`.
    public static func read(path: String, from offset: Int64, limit: Int) -> (bytes: [UInt8], size: Int64) {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
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
}
