import Foundation

/// Starts a program as a person's shell would, not as a test's thread would: stdin from /dev/null,
/// stdout and stderr to files (never pipes), no other descriptor of the test, an empty signal mask and
/// default signal actions, in a session of its own.
///
/// Why not Foundation's Process: a process started from a test's thread inherits the thread's signal
/// mask (SIGTERM, SIGINT and SIGCHLD blocked: it cannot be stopped politely, nor see its children end)
/// and the test's descriptors (a pipe read to its end then waits for every process that kept it, an
/// earlier tmux attempt hung there). The corresponding C function is `posix_spawn`.
public enum CleanSpawn {
    /// Starts `path` with `arguments`; its output goes to `stdout` and `stderr` (created, 0600).
    /// - Returns: its pid; reap it with ``wait(_:within:)``.
    public static func start(
        _ path: String, _ arguments: [String], environment: [String: String] = ProcessInfo.processInfo.environment,
        stdout: String, stderr: String
    ) throws -> pid_t {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, stdout, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        posix_spawn_file_actions_addopen(&actions, 2, stderr, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        _ = addCloseFrom?(&actions, 3)

        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var noSignals = sigset_t()
        sigemptyset(&noSignals)
        posix_spawnattr_setsigmask(&attributes, &noSignals)
        var allSignals = sigset_t()
        sigfillset(&allSignals)
        posix_spawnattr_setsigdefault(&attributes, &allSignals)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF | setSID))

        let argv = ([path] + arguments).map { strdup($0) } + [nil]
        let envp = environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer { for pointer in argv + envp { free(pointer) } }
        var pid: pid_t = 0
        let result = posix_spawn(&pid, path, &actions, &attributes, argv, envp)
        guard result == 0 else { throw SpawnFailed(description: "posix_spawn \(path): \(String(cString: strerror(result)))") }
        return pid
    }

    /// Waits for `pid` to exit, at most `limit`; then SIGKILLs and reaps it, and throws `TimedOut`.
    /// - Returns: its exit status (128 + the signal, if a signal ended it).
    @discardableResult
    public static func wait(_ pid: pid_t, within limit: Duration = .seconds(10), what: String) async throws -> Int32 {
        var status: Int32 = 0
        do {
            try await eventually("\(what) exits", within: limit) { () -> Bool? in
                waitpid(pid, &status, WNOHANG) == pid ? true : nil
            }
        } catch {
            kill(pid, SIGKILL)
            _ = waitpid(pid, &status, 0)
            throw error
        }
        return (status & 0x7f) == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
    }

    /// glibc's POSIX_SPAWN_SETSID (spawn.h), which Swift's Glibc module does not import (it is under
    /// _GNU_SOURCE).
    private static let setSID: Int32 = 0x80

    /// glibc's `posix_spawn_file_actions_addclosefrom_np` (2.34 and later; under _GNU_SOURCE too, so
    /// looked up at run time), or nil if this libc has none.
    private static let addCloseFrom:
        (@convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, Int32) -> Int32)? = {
            guard let symbol = dlsym(nil, "posix_spawn_file_actions_addclosefrom_np") else { return nil }
            return unsafeBitCast(
                symbol, to: (@convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, Int32) -> Int32).self)
        }()
}

/// A program that could not be started; says which and why.
public struct SpawnFailed: Error, CustomStringConvertible {
    public let description: String
}
