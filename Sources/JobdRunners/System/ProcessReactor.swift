import CJobdSystem
import Foundation
import Glibc
import JobdProtocol
import Synchronization

/// What to start: one process, its executable already resolved (see ``ExecutableLookup``).
public struct SpawnRequest: Sendable {
    /// Where the process's stdin, stdout and stderr go.
    public enum Stdio: Sendable {
        /// stdin is /dev/null (or `stdin`); stdout and stderr are two pipes the reactor reads and appends to
        /// the log at `path` in the order read, noting each run's stream in the index at `indexPath` (see
        /// ``OutputIndex``), up to `limit` bytes for both files (the rest is read and dropped). The process
        /// group is sampled for its demand.
        /// With `collectsResult`, a third pipe is the child's fd 3, read into memory (a handler process's
        /// result, at most ``ProcessReactor/maximumResultBytes``).
        case captured(path: String, indexPath: String, limit: Int64, stdin: Int32 = -1, collectsResult: Bool = false)
        /// These descriptors (a worker's pipes); the reactor only reaps the process.
        case descriptors(stdin: Int32, stdout: Int32, stderr: Int32)
    }

    /// An absolute path, a path with a `/` (relative to `cwd`), or a bare name, which the child looks up on
    /// `searchPath` itself, as the job's owner.
    public var path: String
    /// Where a bare `path` is looked up (the job's `PATH`); nil: `/usr/local/bin:/usr/bin:/bin`.
    public var searchPath: String?
    public var argv: [String]
    /// `NAME=value` entries.
    public var environment: [String]
    /// The working directory; nil: the owner's home directory, else `/` (as a login would).
    public var cwd: String?
    /// Run as this user (root daemon, job of another user); nil keeps the daemon's identity.
    public var identity: Identity?
    public var stdio: Stdio

    public init(
        path: String, searchPath: String? = nil, argv: [String], environment: [String], cwd: String? = nil,
        identity: Identity? = nil, stdio: Stdio
    ) {
        (self.path, self.searchPath, self.argv, self.environment) = (path, searchPath, argv, environment)
        (self.cwd, self.identity, self.stdio) = (cwd, identity, stdio)
    }

    /// Whether the reactor reads its output (and samples it as a job).
    var isCaptured: Bool {
        if case .captured = stdio { return true }
        return false
    }
}

/// How a child process ended, with the resources its whole reaped tree used.
public struct ChildExit: Sendable, Hashable {
    public var pid: Int32
    /// Exit code, when not killed by a signal.
    public var exitCode: Int?
    /// The signal that killed it.
    public var signal: Int32?
    public var wallSeconds: Double
    public var cpuUserSeconds: Double
    public var cpuSystemSeconds: Double
    /// The tree's own peak resident set (see ``ProcessReactor`` on how it is measured), in bytes.
    public var maxRSSBytes: Int64
    /// What the sampler saw of the job's process group; nil for a process that is not sampled (a worker).
    public var usage: TreeUsage?
    /// Output past the limit was dropped.
    public var outputTruncated: Bool
    /// What the child wrote to fd 3, for a request that `collectsResult` (at most
    /// ``ProcessReactor/maximumResultBytes`` + 1 bytes: one more means it wrote more than that).
    public var result: [UInt8]? = nil
}

/// The result of ``ProcessReactor/run(_:started:)``.
public enum ChildResult: Sendable, Hashable {
    case exited(ChildExit)
    /// Nothing ran; the text says which step failed and why.
    case failedToStart(String)
}

/// One permanent thread that watches the processes this daemon started: `epoll_wait` over each child's
/// pidfd and output pipes, `wait4` for its rusage, then it resumes the task awaiting that child.
///
/// Why a thread of our own, written by hand: awaiting a child must not block the cooperative pool, and no
/// library here both reaps with rusage and sets `PR_SET_PDEATHSIG` (swift-subprocess reaps with `waitid`
/// and has no pre-exec hook; see ../shared/PLATFORM.md).
///
/// **Spawns do not run here**: `vfork` holds the thread that calls it until the child execs, and a child's
/// `execve` or `chdir` may block on a path of its owner's (found in review, issue 18). Each spawn runs on
/// one of ``OwnerThreads``, and the child is then handed to this thread to watch.
public final class ProcessReactor: Sendable {
    /// The largest result a handler process may hand back on fd 3 (a handler's result is stored up to
    /// 1 MiB of JSON; its envelope adds a few bytes).
    public static let maximumResultBytes = (1 << 20) + 1024

    /// Everything here is touched only by the reactor thread, except `arrivals` (under the lock) and
    /// `isSampling`.
    private final class Loop: @unchecked Sendable {
        struct Child {
            var pid: Int32
            var pidfd: Int32
            /// The read ends of its stdout, stderr and result pipes; -1 once closed (or for a worker).
            var pipes: [Int32]
            /// Where its output goes; the files are opened at the first byte: most jobs of a big batch write
            /// nothing, and files created per job would cost opens, directory entries and closes each.
            var output: OutputWriter?
            /// What it wrote to fd 3 so far (a handler process's result).
            var result: [UInt8]?
            var started: ContinuousClock.Instant
            /// Whether its group is sampled (a job); a worker process is not.
            var isSampled: Bool
            /// This process's `ru_maxrss` when the child was spawned: a spawned child's own `ru_maxrss`
            /// starts there (exec keeps the high-water mark of the parent's memory it replaced).
            var parentPeakRSS: Int64
            /// Its entry in the process ledger, removed once the group is gone.
            var ledgerEntry: String?
            var continuation: CheckedContinuation<ChildResult, Never>?
        }

        let epoll: Int32
        let wakeup: Int32
        /// Why the reactor has no epoll set or wake-up eventfd (EMFILE at start-up): every spawn then fails
        /// with this reason, instead of the daemon aborting.
        let setupFailure: String?
        /// Children spawned and not yet taken into `children`. Taken at every wake-up before its events,
        /// so a child's exit is never seen before the child itself.
        let arrivals = Mutex<[Child]>([])
        /// Whether the thread wakes on its own (every sample interval): a new child then needs no wake-up.
        let isSampling = Atomic<Bool>(false)
        var children: [Int32: Child] = [:]
        var buffer = [UInt8](repeating: 0, count: 64 * 1024)
        let sampler = TreeSampler()
        var nextSample = ContinuousClock.now

        /// How often every running job's process group is sampled (issue 10), at most: a slow pass
        /// stretches the interval. Each pass reads
        /// /proc/PID/stat of every process on the machine (see docs/CLASSIFICATION.md for its cost) and
        /// the schedstat of the jobs' processes that ran since the last pass.
        static let sampleInterval = Duration.milliseconds(250)

        init() {
            epoll = jobd_epoll_create()
            wakeup = jobd_eventfd()
            if epoll < 0 {
                setupFailure = "could not start: epoll_create1: \(errnoText(-epoll))"
            } else if wakeup < 0 {
                setupFailure = "could not start: eventfd: \(errnoText(-wakeup))"
            } else {
                let error = jobd_epoll_add(epoll, wakeup, Loop.wakeupToken)
                setupFailure = error == 0 ? nil : "could not start: epoll_ctl: \(errnoText(error))"
            }
        }

        static let wakeupToken: UInt64 = 0
        /// An epoll token: the pid, and what of it is ready (0: its pidfd, 1: stdout, 2: stderr, 3: result).
        static func token(pid: Int32, watching: UInt64) -> UInt64 { UInt64(UInt32(pid)) << 2 | watching }

        func run() {
            jobd_set_thread_name("jobd-reactor")
            var ready = [jobd_ready](repeating: jobd_ready(), count: 128)
            while true {
                var timeout: Int32 = -1
                if !sampler.isEmpty {
                    let left = nextSample - ContinuousClock.now
                    // Rounded up to whole ms; `left` is at most one sample interval, so no overflow.
                    let (seconds, attoseconds) = left.components
                    timeout = left <= .zero ? 0 : Int32(clamping: seconds &* 1000 &+ attoseconds / 1_000_000_000_000_000 &+ 1)
                }
                let count = jobd_epoll_wait(epoll, &ready, Int32(ready.count), timeout)
                takeArrivals()
                if !sampler.isEmpty, ContinuousClock.now >= nextSample {
                    let start = ContinuousClock.now
                    sampler.sampleAll()
                    let end = ContinuousClock.now
                    // At most ~4% of a core, however many processes the machine has: a pass over 1,140
                    // processes (1,000 `sleep` jobs) took ~11 ms in a debug build, so 250 ms holds there.
                    nextSample = end + max(Loop.sampleInterval, (end - start) * 25)
                }
                if count < 0 { continue }  // EINTR
                for event in ready[0..<Int(count)] {
                    if event.token == Loop.wakeupToken {
                        jobd_eventfd_drain(wakeup)
                        continue
                    }
                    let pid = Int32(bitPattern: UInt32(truncatingIfNeeded: event.token >> 2))
                    switch event.token & 3 {
                    case 1: drainOutput(of: pid, stream: .stdout)
                    case 2: drainOutput(of: pid, stream: .stderr)
                    case 3: drainResult(of: pid)
                    default: reap(pid)
                    }
                }
                isSampling.store(!sampler.isEmpty, ordering: .relaxed)
            }
        }

        private func takeArrivals() {
            for child in arrivals.withLock({ a in defer { a.removeAll() }; return a }) {
                children[child.pid] = child
                if child.isSampled {
                    if sampler.isEmpty { nextSample = ContinuousClock.now + Loop.sampleInterval }
                    sampler.watch(child.pid)
                }
            }
        }

        /// Hands a spawned child to the reactor thread: its descriptors watched first, then the child queued
        /// for the thread. An event that comes before the thread has taken the child is left for its next
        /// turn (epoll is level-triggered). Queued first instead, the thread could reap the child, closing
        /// its pipes, before they were watched: a pipe added then is closed, or worse reused, and watched
        /// under the dead child's name (found while testing issue 18: the thread spun on such an event).
        /// Called on the spawning thread.
        /// - Returns: nil, or why the child could not be watched (it was killed and reaped then).
        func watch(_ child: Child) -> String? {
            var watched: [Int32] = []
            var error: Int32 = 0
            for (stream, fd) in child.pipes.enumerated() where fd >= 0 && error == 0 {
                error = jobd_epoll_add(epoll, fd, Loop.token(pid: child.pid, watching: UInt64(stream) + 1))
                if error == 0 { watched.append(fd) }
            }
            if error == 0 { error = jobd_epoll_add(epoll, child.pidfd, Loop.token(pid: child.pid, watching: 0)) }
            guard error == 0 else {
                // Unwatched, the child must not run on (EMFILE or ENOMEM in epoll_ctl; rare).
                for fd in watched { _ = jobd_epoll_remove(epoll, fd) }
                _ = jobd_kill_group(child.pid, SIGKILL)
                jobd_reap_blocking(child.pid)
                for fd in child.pipes + [child.pidfd] where fd >= 0 { close(fd) }
                if let entry = child.ledgerEntry { ProcessLedger.removeEntry(entry) }
                return "could not start: epoll_ctl: \(errnoText(error))"
            }
            arrivals.withLock { $0.append(child) }
            // A sampled child needs the thread awake to be sampled from now on; otherwise its events wake it.
            if child.isSampled && !isSampling.load(ordering: .relaxed) { jobd_eventfd_signal(wakeup) }
            return nil
        }

        /// Reads what one of the child's pipes holds now, keeps what fits under the limit (the writer drops
        /// the rest), and closes the pipe at EOF.
        private func drainOutput(of pid: Int32, stream: StandardStream) {
            let slot = stream == .stdout ? 0 : 1
            drain(pid, slot: slot) { child, bytes in child.output?.append(bytes, from: stream) }
        }

        /// Reads a handler process's result, up to one byte past the limit (then it is known to be too large).
        private func drainResult(of pid: Int32) {
            drain(pid, slot: 2) { child, bytes in
                let room = ProcessReactor.maximumResultBytes + 1 - (child.result?.count ?? 0)
                if room > 0 { child.result = (child.result ?? []) + bytes.prefix(room) }
            }
        }

        private func drain(_ pid: Int32, slot: Int, _ keep: (inout Child, UnsafeRawBufferPointer) -> Void) {
            guard var child = children[pid], slot < child.pipes.count, child.pipes[slot] >= 0 else { return }
            let pipe = child.pipes[slot]
            while true {
                let count = buffer.withUnsafeMutableBytes { read(pipe, $0.baseAddress, $0.count) }
                if count > 0 {
                    buffer.withUnsafeBytes { keep(&child, UnsafeRawBufferPointer(rebasing: $0[0..<count])) }
                    continue
                }
                let error = errno
                if count < 0 && error == EINTR { continue }
                if count == 0 || (count < 0 && error != EAGAIN) {
                    _ = jobd_epoll_remove(epoll, pipe)
                    close(pipe)
                    child.pipes[slot] = -1
                }
                break
            }
            children[pid] = child
        }

        private func reap(_ pid: Int32) {
            var exit = jobd_exit()
            guard let isSampled = children[pid]?.isSampled else { return }
            if isSampled { sampler.sampleLeader(pid) }  // a zombie now: its last schedstat, before wait4 frees it
            guard jobd_reap(pid, &exit) == 1 else { return }  // spurious: not exited yet
            guard let started = children[pid]?.started else { return }
            let wall = ContinuousClock.now - started
            // Output the child wrote before it exited is still in the pipes; stdout's first, as a process
            // that wrote both and exited is most often read that way (a shell's `echo; echo >&2`).
            drainOutput(of: pid, stream: .stdout)
            drainOutput(of: pid, stream: .stderr)
            drainResult(of: pid)
            // The leader is gone; whatever it left in its group (background `&` jobs) goes with it.
            _ = jobd_kill_group(pid, SIGKILL)
            guard var child = children.removeValue(forKey: pid) else { return }
            if let entry = child.ledgerEntry { ProcessLedger.removeEntry(entry) }
            for pipe in child.pipes where pipe >= 0 {
                _ = jobd_epoll_remove(epoll, pipe)
                close(pipe)
            }
            _ = jobd_epoll_remove(epoll, child.pidfd)
            close(child.pidfd)
            child.output?.close()
            let usage = child.isSampled ? sampler.finish(pid) : nil
            // The tree's own peak: rusage's when it passed what the child inherited (then some process of
            // the tree really reached it, and it is exact), else the largest sampled sum of resident sets.
            var peakRSS = exit.max_rss_bytes
            if let usage {
                // With a margin: the daemon's RSS may grow between that read and the spawn (measured: a
                // `sleep 1` reported 39 MB against 38 MB read before), and its counters are approximate.
                let inherited = child.parentPeakRSS &+ child.parentPeakRSS / 4
                let rusagePeak = exit.max_rss_bytes > inherited ? exit.max_rss_bytes : 0
                peakRSS = max(rusagePeak, usage.peakRSSBytes ?? 0)
            }
            child.continuation?.resume(
                returning: .exited(
                    ChildExit(
                        pid: pid, exitCode: exit.signal == 0 ? Int(exit.exit_code) : nil,
                        signal: exit.signal == 0 ? nil : exit.signal,
                        wallSeconds: wall.inSeconds,
                        cpuUserSeconds: Double(exit.user_usec) / 1e6, cpuSystemSeconds: Double(exit.system_usec) / 1e6,
                        maxRSSBytes: peakRSS, usage: usage, outputTruncated: child.output?.truncated ?? false,
                        result: child.result)))
        }
    }

    private struct Failure: Error {
        let reason: String
        init(_ reason: String) { self.reason = reason }
    }

    private let loop: Loop
    /// Where the process groups of jobs are recorded while they run; nil: nowhere (tests).
    private let ledger: ProcessLedger?

    /// Starts the reactor thread; it runs until the process exits. If the kernel refuses its epoll set or
    /// eventfd, no thread starts and every ``run(_:started:)`` fails with that reason.
    /// - Parameter ledger: records each job's process group while it runs (not a worker's).
    public init(ledger: ProcessLedger? = nil) {
        let loop = Loop()
        self.loop = loop
        self.ledger = ledger
        if loop.setupFailure == nil { Thread { loop.run() }.start() }
    }

    /// Starts a process and returns when it has exited.
    ///
    /// - Parameter started: called with the pid (which is also its process-group id) as soon as it runs;
    ///   keep it short.
    public func run(_ request: SpawnRequest, started: @escaping @Sendable (Int32) -> Void) async -> ChildResult {
        if let failure = loop.setupFailure { return .failedToStart(failure) }
        let ledger = request.isCaptured ? ledger : nil
        // On an owner thread: the child may take its time to reach execve, and holds only that thread and
        // its owner's turn (a job of the daemon's own user counts as that user's; a worker as nobody's).
        let owner = request.isCaptured ? request.identity?.uid ?? SystemInfo.userID : nil
        let spawned = await OwnerThreads.shared.run(as: owner) { Self.spawn(request, ledger: ledger) }
        guard case .success(let child) = spawned else {
            if case .failure(let failure) = spawned { return .failedToStart(failure.reason) }
            return .failedToStart("could not start")
        }
        return await withCheckedContinuation { continuation in
            var child = child
            child.continuation = continuation
            started(child.pid)
            if let failure = loop.watch(child) { continuation.resume(returning: .failedToStart(failure)) }
        }
    }

    /// Starts the process on the calling thread (one of ``OwnerThreads``): pipes, the spawn, its pidfd and
    /// its ledger entry. Touches no state of the reactor thread.
    private static func spawn(_ spec: SpawnRequest, ledger: ProcessLedger?) -> Result<Loop.Child, Failure> {
        // The read and write ends of the stdout, stderr and result pipes of a captured process.
        var out: [Int32] = [-1, -1]
        var err: [Int32] = [-1, -1]
        var result: [Int32] = [-1, -1]
        func closePipes() { for fd in out + err + result where fd >= 0 { close(fd) } }
        let stdio: (stdin: Int32, stdout: Int32, stderr: Int32)
        var output: OutputWriter?
        switch spec.stdio {
        case .captured(let path, let indexPath, let limit, let stdin, let collectsResult):
            var pipeError = jobd_pipe(&out, 1)
            if pipeError == 0 { pipeError = jobd_pipe(&err, 1) }
            if pipeError == 0 && collectsResult { pipeError = jobd_pipe(&result, 1) }
            guard pipeError == 0 else {
                closePipes()
                return .failure(Failure("could not start: pipe2: \(errnoText(pipeError))"))
            }
            stdio = (stdin: stdin, stdout: out[1], stderr: err[1])
            output = OutputWriter(logPath: path, indexPath: indexPath, limit: limit)
        case .descriptors(let stdin, let stdout, let stderr):
            stdio = (stdin, stdout, stderr)
        }
        var pid: pid_t = 0
        var step: Int32 = 0
        var failedPath = [CChar](repeating: 0, count: 4096 + 256)
        let started = ContinuousClock.now
        let parentPeakRSS = spec.isCaptured ? SystemInfo.processCPUTime.peakRSSBytes : 0
        let error = withCStringArray(spec.argv) { argv in
            withCStringArray(spec.environment) { envp in
                spec.path.withCString { path in
                    withOptionalCString(spec.cwd) { cwd in
                        withOptionalCString(spec.searchPath) { searchPath in
                            var request = jobd_spawn_request(
                                path: path, search_path: searchPath, argv: argv, envp: envp, cwd: cwd,
                                stdin_fd: stdio.stdin, stdout_fd: stdio.stdout, stderr_fd: stdio.stderr,
                                extra_fd: result[1], uid: spec.identity.map { Int64($0.uid) } ?? -1,
                                gid: spec.identity.map { Int64($0.gid) } ?? -1, kill_with_parent: 1)
                            return jobd_spawn(&request, &pid, &step, &failedPath, failedPath.count)
                        }
                    }
                }
            }
        }
        for fd in [out[1], err[1], result[1]] where fd >= 0 { close(fd) }
        let pipes = spec.isCaptured ? [out[0], err[0], result[0]] : []
        guard error == 0 else {
            for fd in pipes where fd >= 0 { close(fd) }
            let subject = String(decoding: failedPath.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
            return .failure(Failure(spawnFailure(step: step, errno: error, subject: subject, command: spec.path)))
        }
        // From here the child runs: a descriptor we cannot have (EMFILE under a low RLIMIT_NOFILE) fails
        // this one attempt, and the child must not outlive it unwatched.
        let pidfd = jobd_pidfd_open(pid)
        guard pidfd >= 0 else {
            for fd in pipes where fd >= 0 { close(fd) }
            _ = jobd_kill_group(pid, SIGKILL)
            jobd_reap_blocking(pid)
            return .failure(Failure("could not start: pidfd_open: \(errnoText(-pidfd))"))
        }
        return .success(
            Loop.Child(
                pid: pid, pidfd: pidfd, pipes: pipes, output: output, result: nil, started: started,
                isSampled: spec.isCaptured, parentPeakRSS: parentPeakRSS,
                ledgerEntry: ledger?.record(group: pid, owner: spec.identity?.uid ?? SystemInfo.userID),
                continuation: nil))
    }

    /// The sentence a failed spawn ends its attempt with.
    private static func spawnFailure(step: Int32, errno error: Int32, subject: String, command: String) -> String {
        switch step {
        case Int32(JOBD_STEP_NOT_FOUND): return "command not found: \(command)"
        case Int32(JOBD_STEP_NOT_EXECUTABLE): return "not executable: \(subject.isEmpty ? command : subject) (permission denied)"
        case Int32(JOBD_STEP_IS_DIRECTORY): return "is a directory, not a command: \(subject.isEmpty ? command : subject)"
        case Int32(JOBD_STEP_STUCK): return "could not start: \(String(cString: jobd_spawn_step_name(step)))"
        case Int32(JOBD_STEP_CHDIR):
            return "could not start: chdir \(subject): \(errnoText(error))"
        default:
            let what = String(cString: jobd_spawn_step_name(step))
            return "could not start: \(what)\(subject.isEmpty ? "" : " " + subject): \(errnoText(error))"
        }
    }

    /// What the sampler last saw of a running job's process group (CPU and run-queue wait so far, peak
    /// resident set); nil before its first periodic sample or after it ended.
    public func usage(ofGroup pgid: Int32) -> TreeUsage? {
        loop.sampler.published.withLock { $0[pgid] }
    }

    /// Sends `signal` to every process in the group `pgid`. The corresponding C function is `kill`.
    public static func signalGroup(_ pgid: Int32, _ signal: Int32) {
        _ = jobd_kill_group(pgid, signal)
    }

    /// Sends `signal` to one process. The corresponding C function is `kill`.
    public static func signalProcess(_ pid: Int32, _ signal: Int32) {
        _ = kill(pid, signal)
    }
}

// MARK: - C strings

private func withCStringArray<R>(_ strings: [String], _ body: (UnsafePointer<UnsafeMutablePointer<CChar>?>) -> R) -> R {
    let pointers = UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>.allocate(capacity: strings.count + 1)
    for (index, string) in strings.enumerated() { pointers[index] = strdup(string) }
    pointers[strings.count] = nil
    defer {
        for index in 0..<strings.count { free(pointers[index]) }
        pointers.deallocate()
    }
    return body(UnsafePointer(pointers))
}

private func withOptionalCString<R>(_ string: String?, _ body: (UnsafePointer<CChar>?) -> R) -> R {
    guard let string else { return body(nil) }
    return string.withCString { body($0) }
}
