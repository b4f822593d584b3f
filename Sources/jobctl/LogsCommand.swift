import ArgumentParser
import FoundationEssentials
import JobdClient
import JobdProtocol

struct LogsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "logs",
        abstract: "Print a job's captured output: stdout and stderr in the order jobd read them, or one of them.",
        discussion: """
            Each stream keeps its exact order; between the two, lines written in quick succession may come out \
            grouped by stream (two pipes keep no order between them). For exact interleaving run the job with \
            both on one stream: jobctl submit -- sh -c 'CMD 2>&1'.
            """)

    @OptionGroup var global: GlobalOptions
    @Flag(name: .shortAndLong, help: "Keep printing until the job finishes.") var follow = false
    @Flag(help: "Only what the job wrote to stdout.") var stdout = false
    @Flag(help: "Only what the job wrote to stderr.") var stderr = false
    @Argument(help: "The job id.") var id: Int64

    func validate() throws {
        if stdout && stderr { throw ValidationError("--stdout and --stderr exclude each other; give neither for both") }
    }

    func run() throws {
        let stream: StandardStream? = stdout ? .stdout : stderr ? .stderr : nil
        let truncated = try global.withConnection { connection -> Bool in
            let parameters = Logs.Parameters(id: JobID(id), follow: follow, stream: stream)
            if follow {
                var truncated = false
                try connection.stream(Logs.method, parameters) { (reply: Logs.Reply) in
                    writeOut(reply.text)
                    truncated = reply.truncated
                }
                return truncated
            }
            var offset: Int64 = 0
            while true {
                var page = parameters
                page.offset = offset
                let reply = try connection.call(Logs.method, page, returning: Logs.Reply.self)
                writeOut(reply.text)
                if reply.finished || reply.offset == offset { return reply.truncated }
                offset = reply.offset
            }
        }
        if truncated { printError("output was longer than jobd keeps per job; the rest was dropped") }
    }
}
