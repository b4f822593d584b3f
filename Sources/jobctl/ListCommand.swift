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
    @Option(help: "Only jobs older than this id: the next page, as the last line of a page says.") var before: Int64?
    @Flag(help: "Print a JSON array of jobs.") var json = false

    func validate() throws {
        for state in states.flatMap({ $0.split(separator: ",") }) where JobState(rawValue: String(state)) == nil {
            throw ValidationError("unknown state \(state); states are \(JobState.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        if limit < 1 || limit > List.maximumLimit { throw ValidationError("--limit is 1 to \(List.maximumLimit)") }
        if let before, before < 1 { throw ValidationError("--before takes a job id") }
    }

    func run() throws {
        let wanted = states.flatMap { $0.split(separator: ",") }.compactMap { JobState(rawValue: String($0)) }
        let reply = try global.withConnection { connection in
            try connection.call(
                List.method,
                List.Parameters(
                    states: wanted.isEmpty ? nil : wanted, queue: queue, beforeID: before.map { JobID($0) }, limit: limit),
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
        // A page ends at --limit, or earlier where it would pass jobd's reply size bound.
        if let next = reply.nextBeforeID { print("(more jobs: jobctl list --before \(next))") }
    }
}
