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
        let status = try await CleanSpawn.wait(pid, within: limit, what: "tmux \(arguments.joined(separator: " "))")
        return CommandResult(
            status: status,
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
    /// the arguments reach tmux as they are. Through ``CleanSpawn``, for what the server (forked by the
    /// first client) and every pane's program inherit from it: no signal blocked (with SIGCHLD and SIGINT
    /// blocked the server never saw a pane's program end, nor did a program see Ctrl-C), and no
    /// descriptor of the test (its sockets and pipes stayed open in the server).
    private func launch(_ arguments: [String]) throws -> (pid_t, String, String) {
        let name = UUID().uuidString.prefix(8)
        let out = directory.file("tmux-\(name).out")
        let err = directory.file("tmux-\(name).err")
        var environment = ProcessInfo.processInfo.environment
        // Inside a user's tmux, TMUX names their server; this one is ours alone.
        environment["TMUX"] = nil
        if environment["TERM"] == nil || environment["TERM"] == "dumb" { environment["TERM"] = "xterm-256color" }
        let pid = try CleanSpawn.start(
            SystemTools.tmux, ["-S", socket, "-f", "/dev/null"] + arguments, environment: environment, stdout: out, stderr: err)
        return (pid, out, err)
    }

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
