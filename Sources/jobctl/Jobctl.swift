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
            var command = try parseAsRoot(arguments)
            try command.run()
        } catch {
            exit(withError: error)
        }
    }

    static let configuration = CommandConfiguration(
        commandName: "jobctl",
        abstract: "Submit jobs to jobd and see what is queued, running, failed, and why.",
        discussion: """
            Exit codes: 0 success; for wait and submit --wait, the job's own exit code (1 if it failed
            without one, \(ExitStatus.cancelled) if it was cancelled); \(ExitStatus.notFound) no such job; \(ExitStatus.invalid) invalid request;
            \(ExitStatus.unavailable) jobd unreachable; \(ExitStatus.denied) permission denied; \(ExitStatus.temporary) jobd shutting down or its disk refused the write;
            \(ExitStatus.software) any other error.
            """,
        version: JobdInterface.version,
        subcommands: [
            SubmitCommand.self, ListCommand.self, ShowCommand.self, StatusCommand.self, LogsCommand.self,
            WaitCommand.self, CancelCommand.self, ProfilesCommand.self, PruneCommand.self,
        ])
}
