import ArgumentParser
import Foundation
import JobdClient
import JobdProtocol

struct LogsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "logs", abstract: "Print a job's captured output (stdout and stderr, as written).")

    @OptionGroup var global: GlobalOptions
    @Flag(name: .shortAndLong, help: "Keep printing until the job finishes.") var follow = false
    @Argument(help: "The job id.") var id: Int64

    func run() async throws {
        let truncated = try await global.withConnection { connection -> Bool in
            let parameters = Logs.Parameters(id: JobID(id), follow: follow)
            if follow {
                var truncated = false
                try await connection.stream(Logs.method, parameters) { (reply: Logs.Reply) in
                    FileHandle.standardOutput.write(Data(reply.text.utf8))
                    truncated = reply.truncated
                }
                return truncated
            }
            var offset: Int64 = 0
            while true {
                var page = parameters
                page.offset = offset
                let reply = try await connection.call(Logs.method, page, returning: Logs.Reply.self)
                FileHandle.standardOutput.write(Data(reply.text.utf8))
                if reply.text.isEmpty || reply.offset == offset { return reply.truncated }
                offset = reply.offset
            }
        }
        if truncated { printError("output was longer than jobd keeps per job; the rest was dropped") }
    }
}
