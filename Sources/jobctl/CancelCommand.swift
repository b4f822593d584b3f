import ArgumentParser
import JobdClient
import JobdProtocol

struct CancelCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cancel",
        abstract: "Cancel jobs: a waiting one at once; a running one has its whole process group killed.")

    @OptionGroup var global: GlobalOptions
    @Argument(help: "Job ids.") var ids: [Int64]

    func validate() throws {
        if ids.isEmpty { throw ValidationError("name at least one job id") }
    }

    func run() throws {
        try global.withConnection { connection in
            for id in ids {
                let job = try connection.call(Cancel.method, Cancel.Parameters(id: JobID(id)), returning: Cancel.Reply.self).job
                print("\(job.id) \(job.state.rawValue)")
            }
        }
    }
}
