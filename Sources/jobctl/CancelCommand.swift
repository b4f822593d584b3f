import ArgumentParser
import Glibc
import JobdClient
import JobdProtocol

struct CancelCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cancel",
        abstract: "Cancel jobs: a waiting one at once; a running one has its whole process group killed.",
        discussion: """
            jobctl cancel 17 18               # these jobs
            jobctl cancel --queue media       # every waiting or running job of the queue (yours; root: all)
            jobctl cancel --state queued --yes
            A filter that matches more than one job asks for confirmation on a terminal; elsewhere, pass --yes.
            """)

    @OptionGroup var global: GlobalOptions
    @Option(help: "Every unfinished job of this queue.") var queue: String?
    @Option(
        name: .customLong("state"), parsing: .singleValue,
        help: "Every job in this state (scheduled, queued, running; repeatable).")
    var states: [String] = []
    @Flag(help: "Do not ask before cancelling more than one job.") var yes = false
    @Argument(help: "Job ids.") var ids: [Int64] = []

    private static let cancellable: [JobState] = [.scheduled, .queued, .running]

    func validate() throws {
        if ids.isEmpty && queue == nil && states.isEmpty {
            throw ValidationError("name job ids, or --queue and/or --state")
        }
        if !ids.isEmpty && (queue != nil || !states.isEmpty) {
            throw ValidationError("give ids, or --queue/--state, not both")
        }
        for state in states where JobState(rawValue: state).map(Self.cancellable.contains) != true {
            throw ValidationError("--state \(state): only scheduled, queued and running jobs can be cancelled")
        }
        if let bad = ids.first(where: { $0 < 1 }) { throw ValidationError("\(bad): job ids start at 1") }
    }

    func run() throws {
        try global.withConnection { connection in
            let targets = ids.isEmpty ? try matching(connection) : ids.map { JobID($0) }
            if targets.isEmpty {
                printError("no job matches")
                return
            }
            // Ids named one by one are meant; a filter that matches several is asked about first.
            if ids.isEmpty && targets.count > 1 && !yes {
                // No terminal to ask on is a script's mistake (65); a person who says no is not (1).
                guard isatty(0) == 1 else {
                    printError("\(targets.count) jobs match; pass --yes to cancel them all without a terminal to confirm on")
                    throw ExitCode(ExitStatus.invalid)
                }
                guard confirm(targets.count) else {
                    printError("nothing cancelled")
                    throw ExitCode(1)
                }
            }
            for id in targets {
                let job = try connection.call(Cancel.method, Cancel.Parameters(id: id), returning: Cancel.Reply.self).job
                print("\(job.id) \(job.state.rawValue)")
            }
        }
    }

    /// The unfinished jobs the filter names, every page of them.
    private func matching(_ connection: BlockingConnection) throws -> [JobID] {
        let wanted = states.isEmpty ? Self.cancellable : states.compactMap { JobState(rawValue: $0) }
        var found: [JobID] = []
        var before: JobID?
        repeat {
            let reply = try connection.call(
                List.method, List.Parameters(states: wanted, queue: queue, beforeID: before, limit: List.maximumLimit),
                returning: List.Reply.self)
            found += reply.jobs.map(\.id)
            before = reply.nextBeforeID
        } while before != nil
        return found.sorted()
    }

    /// Asks on the terminal (stdin is one).
    private func confirm(_ count: Int) -> Bool {
        let question = Array("cancel \(count) jobs? [y/N] ".utf8)
        _ = question.withUnsafeBytes { write(2, $0.baseAddress, $0.count) }
        let answer = readLine()?.lowercased().filter { !$0.isWhitespace }
        return answer == "y" || answer == "yes"
    }
}
