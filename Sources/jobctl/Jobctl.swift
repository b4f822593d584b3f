import ArgumentParser
import Glibc
import JobdClient
import JobdProtocol

/// `jobctl`: submit jobs to jobd and see the queue. Each subcommand is its own file.
@main
struct Jobctl: ParsableCommand {
    /// Accepts `--socket PATH` before the subcommand too (`jobctl --socket S status`): ArgumentParser
    /// gives subcommands only the options after their name, so a leading one becomes JOBD_SOCKET.
    static func main() {
        var arguments = Array(CommandLine.arguments.dropFirst())
        while let first = arguments.first, first == "--socket" || first.hasPrefix("--socket=") {
            let value: String
            if first == "--socket" {
                guard arguments.count >= 2 else { break }
                value = arguments[1]
                arguments.removeFirst(2)
            } else {
                value = String(first.dropFirst("--socket=".count))
                arguments.removeFirst()
            }
            setenv("JOBD_SOCKET", value, 1)
        }
        do {
            if try runWithoutParsing(arguments) { return }
            var command = try parseAsRoot(arguments)
            try command.run()
        } catch let code as ExitCode {
            // What exit(withError:) does with an ExitCode (print nothing, exit with it), without the help
            // text it builds first and never prints: 17% of a `submit --wait` that exits 0 (perf, issue 12).
            Glibc.exit(code.rawValue)
        } catch {
            exit(withError: error)
        }
    }

    /// Runs the two calls scripts make in loops, `status` and `submit [--wait] -- COMMAND [ARG...]`, when
    /// they are written exactly so, with the same code as their subcommands; anything else (an option, a
    /// typo, `--help`) returns false and goes through ArgumentParser.
    ///
    /// Why: ArgumentParser builds its argument sets by reflection, and each first use of a generic type
    /// makes the Swift runtime scan every protocol conformance in the binary (~4,000, a quarter of them
    /// FoundationEssentials'): perf put 40% of a `jobctl status` or `submit --wait` in `parseAsRoot`, half
    /// of that in its check for `--generate-completion-script` (issue 12).
    private static func runWithoutParsing(_ arguments: [String]) throws -> Bool {
        if arguments == ["status"] {
            try StatusCommand.show(socketPath: GlobalOptions.defaultSocketPath, json: false)
            return true
        }
        guard arguments.first == "submit" else { return false }
        var rest = arguments.dropFirst()
        let wait = rest.first == "--wait"
        if wait { rest = rest.dropFirst() }
        guard rest.first == "--", rest.count > 1 else { return false }
        let spec = SubmitCommand.execSpec(Array(rest.dropFirst()))
        try SubmitCommand.submit([spec], socketPath: GlobalOptions.defaultSocketPath, wait: wait, json: false, isBatch: false)
        return true
    }

    static let configuration = CommandConfiguration(
        commandName: "jobctl",
        abstract: "Submit jobs to jobd and see what is queued, running, failed, and why.",
        // One paragraph per line: ArgumentParser wraps each line to the terminal, so a line broken by hand
        // came out broken mid-sentence (issue 18).
        discussion: """
            Exit codes: 0 success; for wait and submit --wait, the job's own exit code (1 if it failed without one, \(ExitStatus.cancelled) if it was cancelled or the wait was interrupted while the job runs on); \(ExitStatus.usage) bad command line; \(ExitStatus.invalid) invalid request; \(ExitStatus.notFound) no such job; \(ExitStatus.unavailable) jobd unreachable (not running); \(ExitStatus.software) a reply jobctl cannot read, or another internal error; \(ExitStatus.temporary) jobd shutting down or its disk refused the write; \(ExitStatus.denied) permission denied (the socket or the call is not open to you).
            """,
        version: JobdInterface.version,
        subcommands: [
            SubmitCommand.self, ListCommand.self, ShowCommand.self, StatusCommand.self, LogsCommand.self,
            WaitCommand.self, CancelCommand.self, RetryCommand.self, QueueCommand.self, PauseCommand.self,
            ResumeCommand.self, ScheduleCommand.self, WatchCommand.self, ProfilesCommand.self, PruneCommand.self,
        ])
}
