import ArgumentParser
import JobdClient
import JobdProtocol

/// `jobctl prune`: deletes finished jobs and their logs now, rather than at the end of jobd's retention.
struct PruneCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "prune",
        abstract: "Delete your finished jobs and their logs (root: everyone's); prints how many.",
        discussion: """
            Only finished jobs (succeeded, failed, dead, cancelled) are deleted; queued and running ones never.
            Without --older-than, every finished job goes, however recent. jobd also prunes on its own,
            after its --retention (7 days by default).
            """)

    @OptionGroup var global: GlobalOptions

    @Option(help: "Only jobs that finished at least this long ago: seconds, or 30m, 12h, 7d. Default: 0 (all).")
    var olderThan: String?

    @Option(name: .customLong("state"), parsing: .singleValue,
            help: "Only jobs in this state (repeatable): succeeded, failed, dead, cancelled. Default: all four.")
    var states: [String] = []

    func validate() throws {
        if let olderThan, DurationText.seconds(olderThan, zero: .allowed) == nil {
            throw ValidationError("--older-than takes seconds or a duration such as 10m, 12h or 7d, got \(olderThan)")
        }
        for state in wantedNames {
            guard let known = JobState(rawValue: state), known.isFinished else {
                throw ValidationError("--state \(state) is not a finished state; prune takes succeeded, failed, dead, cancelled")
            }
        }
    }

    private var wantedNames: [String] { states.flatMap { $0.split(separator: ",") }.map(String.init) }

    func run() throws {
        let wanted = wantedNames.compactMap(JobState.init(rawValue:))
        let parameters = Prune.Parameters(
            olderThanSeconds: olderThan.flatMap { DurationText.seconds($0, zero: .allowed) }, states: wanted.isEmpty ? nil : wanted)
        try global.withConnection { connection in
            let reply = try connection.call(Prune.method, parameters, returning: Prune.Reply.self)
            print(reply.pruned)
        }
    }
}
