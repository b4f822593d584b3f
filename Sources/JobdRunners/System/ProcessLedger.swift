import CJobdSystem
import Glibc
import Logging

/// The process groups of the jobs running now, one empty file each in a directory of the daemon's:
/// `<pgid>.<start time>.<uid>`, the group's leader, the moment it started (clock ticks since boot), which
/// together name one process for good where a pid alone may be reused, and the job's owner.
///
/// Why: `PR_SET_PDEATHSIG` kills a job's own process when jobd is killed (`kill -9`), but not what it
/// started: `sh -c 'sleep 25; echo done'` leaves `sleep` running under PID 1, and the requeued attempt
/// would run beside it (found in review, issue 18). At the next start, ``killLeftovers(in:logger:)`` kills
/// every group the file names before anything runs again. A plain file, written without fsync, is enough:
/// processes outlive a killed daemon, never a machine that went down, and the boot id kept beside the
/// entries tells a ledger from an earlier boot.
///
/// A process that leaves its job's group (`setsid`, `setpgid`: a daemonizing program) is not found this
/// way; under systemd, `KillMode=control-group` ends it with the service (docs/SECURITY.md).
public final class ProcessLedger: Sendable {
    public let directory: String

    /// - Parameter directory: created (0700) if missing; it must be the daemon's own (see ``StateDirectory``).
    public init(directory: String) {
        self.directory = directory
    }

    /// One running group's entry. The corresponding C function is `open` (`O_CREAT | O_EXCL | O_NOFOLLOW`).
    /// - Returns: the entry's path, to ``removeEntry(_:)`` when the group is gone; nil if it could not be written
    ///   (the job runs all the same; only its leftovers after a crash would then be missed).
    func record(group pgid: Int32, owner: UInt32) -> String? {
        let start = jobd_process_start_time(pgid)
        guard start >= 0 else { return nil }
        let path = "\(directory)/\(pgid).\(start).\(owner)"
        let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o600)
        guard fd >= 0 else { return nil }
        close(fd)
        return path
    }

    /// The group is gone (its leader reaped, the rest killed): its entry goes.
    static func removeEntry(_ entry: String) {
        while unlink(entry) != 0 && errno == EINTR {}
    }

    /// What a start found of the groups a dead jobd left.
    public struct Leftovers: Sendable, Equatable {
        /// Groups that still had processes, now killed.
        public var killed: [Int32] = []
        /// Groups whose processes did not end within the wait (stuck in the kernel: a hung mount).
        public var stuck: [Int32] = []
    }

    /// Kills every process group named in `directory` that still has processes, waits (up to `wait`) until
    /// they are gone, and empties the directory. Run it before the store requeues anything, so a job's
    /// next attempt never runs beside its last one.
    ///
    /// A group whose leader still runs (the same pid and start time) is killed whole. A group whose leader
    /// is gone may have been given up and its number reused (the kernel reuses a pid once no group holds
    /// it): only its members that belong to the job's owner and started after the job did are killed,
    /// one by one (found in review, issue 18). A leader's pid that now names another process means the
    /// group is gone.
    public static func killLeftovers(in directory: String, wait: Duration = .seconds(5), logger: Logger) -> Leftovers {
        let bootID = currentBootID()
        let bootFile = "\(directory)/boot_id"
        let sameBoot = bootID != nil && readSmallFile(bootFile) == bootID
        /// Groups killed whole (their leader still ran), and processes killed one by one with their group.
        var wholeGroups: [Int32] = []
        var members: [(group: Int32, pid: Int32)] = []
        lazy var allProcesses = processIDs()
        for name in directoryEntries(directory) where name != "boot_id" {
            defer { while unlink("\(directory)/\(name)") != 0 && errno == EINTR {} }
            let parts = name.split(separator: ".")
            guard sameBoot, parts.count == 3, let pgid = Int32(parts[0]), pgid > 1, let start = Int64(parts[1]),
                let owner = Int64(parts[2])
            else { continue }
            let now = jobd_process_start_time(pgid)
            if now >= 0 && now != start { continue }  // the pid is another process's now: the group is gone
            if now == start {
                if jobd_kill_group(pgid, SIGKILL) == 0 { wholeGroups.append(pgid) }
                continue
            }
            for pid in allProcesses {
                var group: Int32 = 0
                var uid: Int64 = 0
                var started: Int64 = 0
                guard jobd_process_identity(pid, &group, &uid, &started) == 0, group == pgid, uid == owner,
                    started >= start, kill(pid, SIGKILL) == 0
                else { continue }
                members.append((pgid, pid))
            }
        }
        if let bootID { _ = writeSmallFile(bootFile, bootID) }
        let deadline = ContinuousClock.now + wait
        var waitingGroups = wholeGroups
        var waitingMembers = members
        while !(waitingGroups.isEmpty && waitingMembers.isEmpty) && ContinuousClock.now < deadline {
            usleep(10_000)
            // A zombie is gone for this purpose: it runs nothing, and its reaping is its parent's (or,
            // with the daemon that started it dead, init's) business, which may take a while here.
            var liveGroups = Set<Int32>()
            if !waitingGroups.isEmpty {
                for pid in processIDs() {
                    var group: Int32 = 0
                    if jobd_process_alive(pid, &group) == 1 { liveGroups.insert(group) }
                }
            }
            waitingGroups = waitingGroups.filter { liveGroups.contains($0) }
            waitingMembers = waitingMembers.filter { member in
                var group: Int32 = 0
                return jobd_process_alive(member.pid, &group) == 1
            }
        }
        var leftovers = Leftovers()
        leftovers.killed = Array(Set(wholeGroups + members.map(\.group))).sorted()
        leftovers.stuck = Array(Set(waitingGroups + waitingMembers.map(\.group))).sorted()
        if !leftovers.killed.isEmpty {
            logger.warning(
                "killed what a stopped jobd's jobs left running: process groups \(leftovers.killed.map(String.init).joined(separator: ", "))")
        }
        if !leftovers.stuck.isEmpty {
            logger.error(
                "process groups \(leftovers.stuck.map(String.init).joined(separator: ", ")) did not end within \(wait) of SIGKILL (stuck in the kernel); their jobs' next attempts may run beside them")
        }
        return leftovers
    }

    /// Every process now, from /proc.
    private static func processIDs() -> [Int32] {
        directoryEntries("/proc").compactMap { Int32($0) }
    }

    private static func currentBootID() -> String? {
        readSmallFile("/proc/sys/kernel/random/boot_id")
    }

    private static func readSmallFile(_ path: String) -> String? {
        let fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var buffer = [UInt8](repeating: 0, count: 128)
        let count = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
        guard count > 0 else { return nil }
        return String(decoding: buffer[0..<count], as: UTF8.self).split(whereSeparator: \.isWhitespace).first.map(String.init)
    }

    private static func writeSmallFile(_ path: String, _ text: String) -> Bool {
        unlink(path)
        let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o600)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        let bytes = Array((text + "\n").utf8)
        return bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) } == bytes.count
    }

    private static func directoryEntries(_ path: String) -> [String] {
        guard let dir = opendir(path) else { return [] }
        defer { closedir(dir) }
        var names: [String] = []
        while let entry = readdir(dir) {
            let name = withUnsafePointer(to: entry.pointee.d_name) {
                $0.withMemoryRebound(to: CChar.self, capacity: 256) { String(cString: $0) }
            }
            if name != "." && name != ".." { names.append(name) }
        }
        return names
    }
}
