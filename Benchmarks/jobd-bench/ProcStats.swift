import Foundation

/// Memory figures from /proc, for the daemons and the peers' processes.
enum ProcStats {
    /// A field of /proc/PID/status in bytes (VmHWM:, VmRSS:), 0 if the process is gone.
    static func statusField(_ pid: pid_t, _ name: String) -> Int64 {
        guard let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8),
            let line = status.split(separator: "\n").first(where: { $0.hasPrefix(name) }),
            let kb = Int64(line.split(separator: " ").dropFirst().first ?? "")
        else { return 0 }
        return kb * 1024
    }

    /// Every live pid.
    static func pids() -> [pid_t] {
        ((try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []).compactMap { pid_t($0) }
    }

    /// The descendants of `root` (children, their children, ...), from each process's parent in /proc/PID/stat.
    static func descendants(of root: pid_t) -> [pid_t] {
        var children: [pid_t: [pid_t]] = [:]
        for pid in pids() {
            // "pid (comm) state ppid ...": comm may hold spaces, so split after its closing parenthesis.
            guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
                let close = stat.lastIndex(of: ")")
            else { continue }
            let fields = stat[stat.index(after: close)...].split(separator: " ")
            if fields.count > 1, let parent = pid_t(fields[1]) { children[parent, default: []].append(pid) }
        }
        var result: [pid_t] = []
        var queue = children[root] ?? []
        while let pid = queue.popLast() {
            result.append(pid)
            queue += children[pid] ?? []
        }
        return result
    }

    /// Resident bytes now, from /proc/PID/statm (cheaper to read than status), 0 if gone.
    static func residentBytes(_ pid: pid_t) -> Int64 {
        guard let statm = try? String(contentsOfFile: "/proc/\(pid)/statm", encoding: .utf8) else { return 0 }
        let fields = statm.split(separator: " ")
        guard fields.count > 1, let pages = Int64(fields[1]) else { return 0 }
        return pages * Int64(sysconf(Int32(_SC_PAGESIZE)))
    }

    /// Whether `pid`'s environment holds `entry` ("NAME=value").
    static func environment(of pid: pid_t, contains entry: String) -> Bool {
        guard let data = FileManager.default.contents(atPath: "/proc/\(pid)/environ") else { return false }
        return data.split(separator: 0).contains { $0.elementsEqual(entry.utf8) }
    }
}

/// The peak of the summed RSS of a set of processes that come and go (task-spooler's server, its
/// clients and their commands), sampled every `interval` on a thread: each process is matched once by
/// `matches` (e.g. an environment variable), then its RSS read from statm each sample.
/// A sum of RSS counts shared pages once per process, like `ps`.
final class RSSSampler: @unchecked Sendable {
    private let lock = NSLock()
    private var running = true
    private var peak: Int64 = 0
    private let done = DispatchSemaphore(value: 0)

    init(interval: Duration = .milliseconds(250), matches: @escaping @Sendable (pid_t) -> Bool) {
        let thread = Thread { [self] in
            var known: [pid_t: Bool] = [:]
            while lock.withLock({ running }) {
                var total: Int64 = 0
                for pid in ProcStats.pids() {
                    if known[pid] == nil { known[pid] = matches(pid) }
                    if known[pid]! { total += ProcStats.residentBytes(pid) }
                }
                lock.withLock { peak = max(peak, total) }
                Thread.sleep(forTimeInterval: seconds(interval))
            }
            done.signal()
        }
        thread.start()
    }

    /// Stops sampling; the peak sum in bytes.
    func stop() -> Int64 {
        lock.withLock { running = false }
        done.wait()
        return lock.withLock { peak }
    }
}
