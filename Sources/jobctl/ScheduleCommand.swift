import ArgumentParser
import FoundationEssentials
import JobdClient
import JobdProtocol

/// `jobctl schedule add|list|rm`: recurring jobs.
struct ScheduleCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "schedule", abstract: "Recurring jobs: add, list and remove schedules.",
        subcommands: [Add.self, List.self, Remove.self])

    struct Add: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "add",
            abstract: "Submit a command at every due time of a cron expression or a period.",
            discussion: """
                jobctl schedule add nightly --cron '0 3 * * *' -- ./backup.sh
                jobctl schedule add poll --every 10m --io -- curl -fsS https://example.org/health

                --cron takes the five standard fields (minute hour day month weekday) in jobd's local time zone (not \
                yours, if they differ), or @daily, \
                @hourly, @weekly, @monthly, @yearly. Missed due times while jobd was down are skipped, or run \
                once at start-up with --catch-up. A schedule of the same name is replaced. The job options are \
                submit's.
                """)

        @OptionGroup var global: GlobalOptions
        @Argument(help: "The schedule's name (letters, digits, '.', '_', '-').") var name: String
        @Option(help: "Five cron fields, in jobd's local time: '0 3 * * *'.") var cron: String?
        @Option(help: "A period: 30s, 10m, 2h, 1d.") var every: String?
        @Flag(help: "After jobd was down over due times, run the job once at start-up.") var catchUp = false
        @OptionGroup(title: "Job options") var job: JobOptions
        // Only what follows `--`: the options before it are the schedule's, whatever order they come in.
        @Argument(parsing: .postTerminator, help: "The command and its arguments, after --.") var command: [String] = []

        private var arguments: [String] { command.first == "--" ? Array(command.dropFirst()) : command }

        func validate() throws {
            if (cron == nil) == (every == nil) { throw ValidationError("give --cron or --every") }
            if let every, DurationText.seconds(every) == nil { throw ValidationError("--every \(every): expected 30s, 10m, 2h or 1d") }
            if arguments.isEmpty { throw ValidationError("nothing to run: jobctl schedule add NAME --every 1h -- COMMAND") }
        }

        func run() throws {
            var spec = job.applied(to: SubmitCommand.execSpec(arguments, cwd: job.cwd))
            spec.name = name
            let parameters = AddSchedule.Parameters(
                name: name, cron: cron, everySeconds: every.flatMap { DurationText.seconds($0) }, catchUp: catchUp, job: spec)
            let schedule = try global.withConnection { connection in
                try connection.call(AddSchedule.method, parameters, returning: AddSchedule.Reply.self).schedule
            }
            print("\(schedule.name): next at \(schedule.nextDue.rfc3339)")
        }
    }

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "list", abstract: "Your schedules (root: everyone's).")

        @OptionGroup var global: GlobalOptions
        @Flag(help: "Print JSON.") var json = false

        func run() throws {
            // A page at a time: root's listing of every user's schedules is never one reply too large.
            let schedules = try global.withConnection { connection in
                var all: [ScheduleInfo] = []
                var after: String?
                repeat {
                    let page = try connection.call(
                        Schedules.method, Schedules.Parameters(after: after), returning: Schedules.Reply.self)
                    all += page.schedules
                    after = page.next
                } while after != nil
                return all
            }
            if json {
                try printJSON(schedules)
                return
            }
            var table = Table("NAME", "OWNER", "WHEN", "NEXT", "LAST JOB", "COMMAND")
            for schedule in schedules {
                let when = schedule.cron.map { "cron \($0)" }
                    ?? "every \(DurationText.format(seconds: schedule.everySeconds ?? 0))"
                table.add([
                    schedule.name, String(schedule.ownerUID), when + (schedule.catchUp ? ", catch-up" : ""),
                    schedule.nextDue.rfc3339, schedule.lastJobID.map(\.description) ?? "-",
                    (schedule.job.argv ?? [schedule.job.resolvedKind]).map(Job.quoted).joined(separator: " "),
                ])
            }
            print(table.render())
        }
    }

    struct Remove: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "rm", abstract: "Stop a schedule; the jobs it submitted stay.")

        @OptionGroup var global: GlobalOptions
        @Argument(help: "The schedule's name.") var name: String

        func run() throws {
            try global.withConnection { connection in
                _ = try connection.call(RemoveSchedule.method, RemoveSchedule.Parameters(name: name), returning: Empty.self)
            }
        }
    }
}
