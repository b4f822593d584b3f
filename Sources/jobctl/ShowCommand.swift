import ArgumentParser
import JobdClient
import JobdProtocol

struct ShowCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "show", abstract: "Show every field of a job.")

    @OptionGroup var global: GlobalOptions
    @Flag(help: "Print the job as JSON (absent values are null), its attempts in attempt_records.") var json = false
    @Argument(help: "The job id.") var id: Int64

    func run() throws {
        let (reply, attempts) = try global.withConnection { connection in
            (
                try connection.call(Get.method, Get.Parameters(id: JobID(id)), returning: Get.Reply.self),
                try connection.call(Attempts.method, Attempts.Parameters(id: JobID(id)), returning: Attempts.Reply.self)
                    .attempts
            )
        }
        let job = reply.job
        if json {
            try printJSON(JobWithAttempts(job: job, attempts: attempts, waitsFor: reply.waitsFor))
            return
        }
        print(job.detailText)
        if let waits = reply.waitsFor {
            print("waits for  \(waits.map { "job \($0)" }.joined(separator: ", ")) (to succeed)")
        }
        guard !attempts.isEmpty else { return }
        print("")
        var table = Table("ATTEMPT", "STARTED", "FINISHED", "WALL", "OUTCOME", "WORKER", "ERROR")
        for attempt in attempts {
            let ended = attempt.outcome
            let outcome = ended?.signal.map { "signal \($0)" } ?? ended?.exitCode.map { "exit \($0)" }
                ?? (ended == nil ? "running" : "-")
            table.add([
                String(attempt.number), attempt.startedAt?.rfc3339 ?? "-", attempt.finishedAt?.rfc3339 ?? "-",
                ended.map { DurationText.format(seconds: $0.wallSeconds) } ?? "-", outcome,
                ended?.workerPID.map { "pid \($0)" } ?? "-", ended?.error ?? "",
            ])
        }
        print(table.render())
    }
}
