import ArgumentParser
import JobdClient
import JobdProtocol

/// `jobctl`: submit jobs to jobd and see the queue. Each subcommand is its own file.
@main
struct Jobctl: AsyncParsableCommand {
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
            WaitCommand.self, CancelCommand.self,
        ])
}
