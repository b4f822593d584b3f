import ArgumentParser
import JobdHandlers
import JobdRunners

/// `jobd run-handler --kind NAME`: one attempt of a blocking handler in a process of its own, started by
/// the daemon as the job's owner (``HandlerProcessRunner``), never by hand: the payload comes on stdin,
/// the result goes to fd 3.
struct RunHandlerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: HandlerProcess.subcommand, abstract: "Run one handler attempt (started by jobd itself).",
        shouldDisplay: false)

    @Option(help: "The handler to run.")
    var kind: String

    func run() async throws {
        let status = await HandlerProcess.runHere(kind: kind, registry: .builtIn)
        if status != 0 { throw ExitCode(status) }
    }
}
