import CJobdSystem
import Glibc

/// Facts about this process and machine, read with one syscall each.
public enum SystemInfo {
    /// The CPUs this process may run on (`sched_getaffinity`), at least 1.
    public static var availableCPUs: Int { Int(jobd_available_cpus()) }

    /// This process's id. The corresponding C function is `getpid`.
    public static var processID: Int32 { getpid() }

    /// The real user id. The corresponding C function is `getuid`.
    public static var userID: UInt32 { getuid() }

    /// The daemon's own group.
    public static var groupID: UInt32 { getgid() }

    /// Names the calling thread (at most 15 bytes); called on the main thread, it is the process's name
    /// in `ps` and `pstree`. The corresponding C function is `prctl(PR_SET_NAME)`.
    public static func nameProcess(_ name: String) {
        jobd_set_thread_name(name)
    }

    /// Gives the heap's free pages back to the kernel. glibc keeps what a burst freed (a 10,000-job submit
    /// decodes, checks and stores every job at once) in its arenas for later; a daemon that keeps no
    /// waiting job in memory would otherwise show that burst's peak as its size for good.
    public static func trimHeap() {
        _ = jobd_trim_heap()
    }

    /// Resident set size of this process, in bytes (the second field of `/proc/self/statm`, in pages).
    public static var residentBytes: Int64? {
        guard let text = readSmallFile("/proc/self/statm") else { return nil }
        let fields = text.split(separator: " ")
        guard fields.count >= 2, let pages = Int64(fields[1]) else { return nil }
        return pages * Int64(sysconf(Int32(_SC_PAGESIZE)))
    }
}

extension SystemInfo {
    /// CPU seconds this process has used so far, user and system, and its peak resident set in bytes
    /// (`getrusage(RUSAGE_SELF)`: one syscall for all three).
    public static var processCPUTime: (user: Double, system: Double, peakRSSBytes: Int64) {
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        return (
            Double(usage.ru_utime.tv_sec) + Double(usage.ru_utime.tv_usec) / 1e6,
            Double(usage.ru_stime.tv_sec) + Double(usage.ru_stime.tv_usec) / 1e6,
            Int64(usage.ru_maxrss) * 1024
        )
    }
}

extension SystemInfo {
    /// The first KiB of a small file (a /proc entry), or nil.
    fileprivate static func readSmallFile(_ path: String) -> String? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var bytes = [UInt8](repeating: 0, count: 1024)
        let count = bytes.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
        return count > 0 ? String(decoding: bytes[0..<count], as: UTF8.self) : nil
    }
}

extension SystemInfo {
    /// Microseconds on `CLOCK_MONOTONIC`, the clock systemd's `MONOTONIC_USEC=` is read against (Swift's
    /// `ContinuousClock` is `CLOCK_BOOTTIME` on Linux, which differs after a suspend).
    /// The corresponding C function is `clock_gettime`.
    public static var monotonicMicroseconds: UInt64 {
        var spec = timespec()
        clock_gettime(CLOCK_MONOTONIC, &spec)
        return UInt64(spec.tv_sec) * 1_000_000 + UInt64(spec.tv_nsec) / 1_000
    }
}
