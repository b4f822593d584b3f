import Foundation

/// Runs commands with posix_spawn + waitpid, not Foundation's Process: its waitUntilExit polls its run
/// loop every 50 ms, which is what a short command's time would then measure.
enum Spawn {
    /// Starts `arguments` (argv[0] a path) with stdout and stderr to /dev/null, or stdout to a pipe that
    /// `run` reads; returns the pid.
    static func start(_ arguments: [String], environment: [String: String]? = nil, stdoutPipe: Int32? = nil) throws -> pid_t {
        let argv: [UnsafeMutablePointer<CChar>?] = arguments.map { strdup($0) } + [nil]
        defer { for pointer in argv { free(pointer) } }
        let envp: [UnsafeMutablePointer<CChar>?]? = environment.map { $0.map { strdup("\($0.key)=\($0.value)") } + [nil] }
        defer { for pointer in envp ?? [] { free(pointer) } }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        if let stdoutPipe {
            posix_spawn_file_actions_adddup2(&actions, stdoutPipe, 1)
            posix_spawn_file_actions_addclose(&actions, stdoutPipe)
        } else {
            posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0)
        }
        posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0)
        // The child would inherit this thread's signal mask (Swift's threads block most signals: a
        // beanstalkd started so ignores SIGTERM) and ignored signals (SIGPIPE): start it clean.
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var signals = sigset_t()
        sigemptyset(&signals)
        posix_spawnattr_setsigmask(&attributes, &signals)
        sigfillset(&signals)
        posix_spawnattr_setsigdefault(&attributes, &signals)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))
        var pid: pid_t = 0
        let result: Int32
        if let envp {
            result = posix_spawn(&pid, argv[0]!, &actions, &attributes, argv, envp)
        } else {
            result = posix_spawn(&pid, argv[0]!, &actions, &attributes, argv, environ)
        }
        guard result == 0 else { throw BenchError("cannot spawn \(arguments[0]): \(String(cString: strerror(result)))") }
        return pid
    }

    /// Waits for `pid`; its exit status (128 + signal if killed).
    @discardableResult
    static func wait(_ pid: pid_t) -> Int32 {
        var status: Int32 = 0
        while waitpid(pid, &status, 0) == -1 && errno == EINTR {}
        return (status & 0x7f) == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
    }

    /// Runs `arguments` to the end: its exit status and, with `captureOutput`, its stdout.
    @discardableResult
    static func run(
        _ arguments: [String], environment: [String: String]? = nil, captureOutput: Bool = false
    ) throws -> (status: Int32, output: String) {
        guard captureOutput else { return (wait(try start(arguments, environment: environment)), "") }
        var fds: [Int32] = [0, 0]
        guard pipe(&fds) == 0 else { throw BenchError("pipe failed") }
        for fd in fds { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }
        let pid: pid_t
        do { pid = try start(arguments, environment: environment, stdoutPipe: fds[1]) } catch {
            close(fds[0]); close(fds[1]); throw error
        }
        close(fds[1])
        var output: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let count = read(fds[0], &buffer, buffer.count)
            if count > 0 { output += buffer[0..<count] } else if count == 0 || errno != EINTR { break }
        }
        close(fds[0])
        return (wait(pid), String(decoding: output, as: UTF8.self))
    }

    /// The median time of one `/bin/true` spawned and reaped, one after another, in seconds: with 2 cores
    /// no system runs 2-way exec jobs faster than 2 ÷ this.
    static func execTime() throws -> Double {
        var times: [Double] = []
        for _ in 0..<300 {
            let started = ContinuousClock.now
            try run(["/bin/true"])
            times.append(seconds(ContinuousClock.now - started))
        }
        return times.sorted()[times.count / 2]
    }

    /// The times of `count` runs of `body`, in ms, sorted.
    static func latencies(_ count: Int, _ body: () throws -> Void) rethrows -> [Double] {
        var times: [Double] = []
        for _ in 0..<count {
            let started = ContinuousClock.now
            try body()
            times.append(seconds(ContinuousClock.now - started) * 1000)
        }
        return times.sorted()
    }

    /// Where `name` is on $PATH (or the usual bin folders), if anywhere.
    static func which(_ name: String) -> String? {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? ""
        for directory in path.split(separator: ":").map(String.init) + ["/usr/bin", "/usr/sbin", "/bin"] {
            let candidate = directory + "/" + name
            if access(candidate, X_OK) == 0 { return candidate }
        }
        return nil
    }
}
