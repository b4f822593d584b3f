import ArgumentParser
import JobdClient
import JobdProtocol

struct ListCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "list", abstract: "List jobs, newest first.")

    @OptionGroup var global: GlobalOptions
    @Option(name: .customLong("state"), parsing: .singleValue,
            help: "Only jobs in this state (repeatable): scheduled, queued, running, succeeded, failed, dead, cancelled.")
    var states: [String] = []
    @Option(help: "Only jobs of this queue.") var queue: String?
    @Option(help: "At most this many jobs.") var limit: Int = 50
    @Flag(help: "Print a JSON array of jobs.") var json = false

    func validate() throws {
        for state in states.flatMap({ $0.split(separator: ",") }) where JobState(rawValue: String(state)) == nil {
            throw ValidationError("unknown state \(state); states are \(JobState.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        if limit < 1 || limit > List.maximumLimit { throw ValidationError("--limit is 1 to \(List.maximumLimit)") }
    }

    func run() throws {
        let wanted = states.flatMap { $0.split(separator: ",") }.compactMap { JobState(rawValue: String($0)) }
        let reply = try global.withConnection { connection in
            try connection.call(
                List.method, List.Parameters(states: wanted.isEmpty ? nil : wanted, queue: queue, limit: limit),
                returning: List.Reply.self)
        }
        if json {
            try printJSON(reply.jobs)
            return
        }
        var table = Table("ID", "STATE", "CLASS", "OUTCOME", "TRIES", "WALL", "QUEUE", "COMMAND")
        for job in reply.jobs {
            table.add([
                job.id.description, job.state.rawValue, job.class.rawValue, job.outcomeSummary, String(job.attempts),
                job.wallSeconds.map { DurationText.format(seconds: $0) } ?? "", job.queue,
                job.name.map { "[\($0)] " + job.commandLine } ?? job.commandLine,
            ])
        }
        print(table.render())
        if reply.nextBeforeID != nil { print("(more jobs: raise --limit)") }
    }
}
