import ArgumentParser
import JobdClient
import JobdProtocol

struct ShowCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "show", abstract: "Show every field of a job.")

    @OptionGroup var global: GlobalOptions
    @Flag(help: "Print the job as JSON (absent values are null).") var json = false
    @Argument(help: "The job id.") var id: Int64

    func run() throws {
        let job = try global.withConnection { connection in
            try connection.call(Get.method, Get.Parameters(id: JobID(id)), returning: Get.Reply.self).job
        }
        if json { try printJSON(job) } else { print(job.detailText) }
    }
}
