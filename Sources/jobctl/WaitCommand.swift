import ArgumentParser
import JobdClient
import JobdProtocol

struct WaitCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "wait",
        abstract: "Wait until jobs finish; exit with the job's exit code.",
        discussion: """
            One job: exits 0 if it succeeded, its exit code if it has one, 1 if it failed without one
            (signal, could not start, timeout), 130 if it was cancelled. Several: 0 only if all succeeded,
            else the code of the first that did not, in argument order.
            """)

    @OptionGroup var global: GlobalOptions
    @Argument(help: "Job ids.") var ids: [Int64]

    func validate() throws {
        if ids.isEmpty { throw ValidationError("name at least one job id") }
    }

    func run() throws {
        let jobs = try global.withConnection { connection in
            try connection.call(Wait.method, Wait.Parameters(ids: ids.map { JobID($0) }), returning: Wait.Reply.self).jobs
        }
        let code = ExitStatus.code(for: jobs)
        if code != 0 { throw ExitCode(code) }
    }
}
