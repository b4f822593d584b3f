import Foundation

/// A tmux server of a test's own, on a socket in the test's temp directory (`-S`, never the user's
/// default server), with no configuration file (`-f /dev/null`): a terminal a test can size, type into
/// and read back, to see a full-screen program the way a person does.
///
/// `TmuxServer.with(in:) { tmux in ... }` kills the server afterwards, whatever the body does.
///
/// Every client command runs with stdin from /dev/null and stdout and stderr to files, never pipes, and
/// no other descriptor of the test: the first command forks the server, which daemonizes but keeps the
/// descriptors it was given, so a pipe read to its end would wait for the server's exit (an earlier
/// attempt hung there). Each command has a deadline. See `launch` for the signal mask.
public struct TmuxServer: Sendable {
    /// The server's socket.
    public let socket: String
    /// Where the commands' output files go.
    private let directory: TempDirectory

    private init(directory: TempDirectory) {
        self.directory = directory
        socket = directory.file("tmux.sock")
    }

    /// Runs `body` with a server socket in `directory` (the server itself starts with the first
    /// `new-session`), then kills the server and every pane in it, also when `body` throws.
    public static func with<R>(in directory: TempDirectory, _ body: (TmuxServer) async throws -> R) async throws -> R {
        let tmux = TmuxServer(directory: directory)
        do {
            let result = try await body(tmux)
            await tmux.kill()
            return result
        } catch {
            await tmux.kill()
            throw error
        }
    }

    /// Runs one tmux client command against this server, e.g. `run("capture-pane", "-p", "-t", "w")`;
    /// returns its exit status and what it printed. Throws `TimedOut` (after killing the client) if it
    /// has not exited within `limit`.
    @discardableResult
    public func run(_ arguments: String..., within limit: Duration = .seconds(10)) async throws -> CommandResult {
        try await run(arguments, within: limit)
    }

    @discardableResult
    public func run(_ arguments: [String], within limit: Duration = .seconds(10)) async throws -> CommandResult {
        let (pid, out, err) = try launch(arguments)
        var status: Int32 = 0
        do {
            try await eventually("tmux \(arguments.joined(separator: " ")) exits", within: limit) { () -> Bool? in
                waitpid(pid, &status, WNOHANG) == pid ? true : nil
            }
        } catch {
            Foundation.kill(pid, SIGKILL)
            _ = waitpid(pid, &status, 0)
            throw error
        }
        return CommandResult(
            status: (status & 0x7f) == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f),
            stdout: (try? String(contentsOfFile: out, encoding: .utf8)) ?? "",
            stderr: (try? String(contentsOfFile: err, encoding: .utf8)) ?? "")
    }

    /// The visible text of a pane (the alternate screen while a program shows it), one line per row.
    public func capture(_ target: String) async throws -> String {
        let result = try await run("capture-pane", "-p", "-t", target)
        guard result.status == 0 else { throw TmuxFailed(description: "capture-pane -t \(target): \(result)") }
        return result.stdout
    }

    /// A format expanded for a pane, e.g. `#{alternate_on}` or `#{pane_dead_status}`.
    public func display(_ target: String, _ format: String) async throws -> String {
        let result = try await run("display-message", "-p", "-t", target, format)
        guard result.status == 0 else { throw TmuxFailed(description: "display-message -t \(target): \(result)") }
        return result.stdout.trimmingCharacters(in: .newlines)
    }

    /// Types keys into a pane, as `send-keys` names them (`C-c`, `q`, `Enter`).
    public func sendKeys(_ target: String, _ keys: String...) async throws {
        let result = try await run(["send-keys", "-t", target] + keys)
        guard result.status == 0 else { throw TmuxFailed(description: "send-keys -t \(target): \(result)") }
    }

    /// Starts a client; returns its pid and the files its stdout and stderr go to. Not through a shell:
    /// the arguments reach tmux as they are.
    ///
    /// posix_spawn rather than Foundation's Process, for what the server (forked by the first client)
    /// and every pane's program inherit from it: an empty signal mask and default signal actions (a
    /// Process started from a test's thread passes on the thread's mask, which blocks SIGCHLD and SIGINT:
    /// the server then never saw a pane's program end, nor did a program see Ctrl-C), no descriptor of the
    /// test beyond 0, 1 and 2 (the test's sockets and pipes stayed open in the server), and a session of
    /// its own (setsid). The corresponding C function is `posix_spawn`.
    private func launch(_ arguments: [String]) throws -> (pid_t, String, String) {
        let name = UUID().uuidString.prefix(8)
        let out = directory.file("tmux-\(name).out")
        let err = directory.file("tmux-\(name).err")
        var environment = ProcessInfo.processInfo.environment
        // Inside a user's tmux, TMUX names their server; this one is ours alone.
        environment["TMUX"] = nil
        if environment["TERM"] == nil || environment["TERM"] == "dumb" { environment["TERM"] = "xterm-256color" }

        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, out, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        posix_spawn_file_actions_addopen(&actions, 2, err, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        _ = Self.addCloseFrom?(&actions, 3)

        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var noSignals = sigset_t()
        sigemptyset(&noSignals)
        posix_spawnattr_setsigmask(&attributes, &noSignals)
        var allSignals = sigset_t()
        sigfillset(&allSignals)
        posix_spawnattr_setsigdefault(&attributes, &allSignals)
        posix_spawnattr_setflags(
            &attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF | Self.setSID))

        let argv = ([SystemTools.tmux, "-S", socket, "-f", "/dev/null"] + arguments).map { strdup($0) } + [nil]
        let envp = environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer { for pointer in argv + envp { free(pointer) } }
        var pid: pid_t = 0
        let result = posix_spawn(&pid, SystemTools.tmux, &actions, &attributes, argv, envp)
        guard result == 0 else {
            throw TmuxFailed(description: "posix_spawn \(SystemTools.tmux): \(String(cString: strerror(result)))")
        }
        return (pid, out, err)
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

    /// `kill-server`, waiting a few seconds at most; then SIGKILL for any process still running tmux on
    /// this socket (the server, should kill-server not reach it), so that no tmux outlives its test.
    private func kill() async {
        _ = try? await run(["kill-server"], within: .seconds(5))
        let processes = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        for case let pid? in processes.map({ Int32($0) }) {
            guard let cmdline = FileManager.default.contents(atPath: "/proc/\(pid)/cmdline") else { continue }
            let argv = cmdline.split(separator: 0).map { String(decoding: $0, as: UTF8.self) }
            if argv.first == SystemTools.tmux, argv.dropFirst().prefix(2).elementsEqual(["-S", socket]) {
                Foundation.kill(pid, SIGKILL)
            }
        }
    }

    /// Starts a detached session of a fixed size running `command` (through `/bin/sh -c`, whatever the
    /// user's shell) in its one pane, with `remain-on-exit` on, so that a pane whose program ended stays
    /// to be read, with its exit status (`#{pane_dead}`, `#{pane_dead_status}`).
    public func newSession(_ name: String, columns: Int, rows: Int, command: String) async throws {
        let result = try await run(
            "start-server", ";", "set-option", "-g", "remain-on-exit", "on", ";",
            "set-option", "-g", "default-shell", "/bin/sh", ";",
            "new-session", "-d", "-s", name, "-x", String(columns), "-y", String(rows), command)
        guard result.status == 0 else { throw TmuxFailed(description: "new-session \(name): \(result)") }
    }
}

/// A tmux command that failed; says which and what it printed.
public struct TmuxFailed: Error, CustomStringConvertible {
    public let description: String
}
