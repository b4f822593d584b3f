import ArgumentParser
import JobdClient
import JobdProtocol

struct RetryCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "retry",
        abstract: "Run a failed, dead or cancelled job again, for one more attempt (its history is kept).")

    @OptionGroup var global: GlobalOptions
    @Argument(help: "Job ids.") var ids: [Int64]

    func validate() throws {
        if ids.isEmpty { throw ValidationError("name at least one job id") }
        if let bad = ids.first(where: { $0 < 1 }) { throw ValidationError("\(bad): job ids start at 1") }
    }

    func run() throws {
        try global.withConnection { connection in
            for id in ids {
                do {
                    let job = try connection.call(Retry.method, Retry.Parameters(id: JobID(id)), returning: Retry.Reply.self).job
                    print("\(job.id) \(job.state.rawValue)")
                } catch ClientError.remote(.jobFinished(let finished, .succeeded)) {
                    printError("job \(finished) succeeded: only a failed, dead or cancelled job runs again (submit it anew)")
                    throw ExitCode(ExitStatus.invalid)
                }
            }
        }
    }
}
