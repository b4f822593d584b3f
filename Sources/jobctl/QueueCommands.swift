import ArgumentParser
import JobdClient
import JobdProtocol

/// `jobctl queue limit NAME N|none`.
struct QueueCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "queue", abstract: "Limit how many jobs of a queue run at once (root or jobd's own user).",
        subcommands: [Limit.self])

    struct Limit: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "limit",
            abstract: "At most N jobs of the queue run at once, whatever their class; `none` removes the limit.")

        @OptionGroup var global: GlobalOptions
        @Argument(help: "The queue.") var queue: String
        @Argument(help: "How many at once (0 holds the queue back), or none.") var limit: String

        func validate() throws {
            if limit != "none" && Int(limit).map({ $0 >= 0 }) != true {
                throw ValidationError("the limit is a whole number from 0, or none")
            }
        }

        func run() throws {
            try global.withConnection { connection in
                _ = try connection.call(
                    SetQueueLimit.method, SetQueueLimit.Parameters(queue: queue, limit: Int(limit)), returning: Empty.self)
            }
        }
    }
}

/// What `pause` and `resume` name: `cpu` and `io` are the classes, anything else a queue; `--all` is
/// everything. A queue called `cpu` is named with `--queue cpu`.
struct PauseTargetOptions: ParsableArguments {
    @Flag(help: "Everything.") var all = false
    @Option(help: "A queue, even one named cpu or io.") var queue: String?
    @Argument(help: "cpu, io, or a queue name.") var target: String?

    func validate() throws {
        let given = [all, queue != nil, target != nil].filter { $0 }.count
        if given != 1 { throw ValidationError("name one target: cpu, io, a queue, --queue NAME or --all") }
    }

    var parameters: PauseParameters {
        if all { return PauseParameters(all: true) }
        if let queue { return PauseParameters(queue: queue) }
        if let target, let jobClass = JobClass(rawValue: target) { return PauseParameters(class: jobClass) }
        return PauseParameters(queue: target)
    }
}

struct PauseCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pause",
        abstract: "Start nothing new of a queue, a class or (--all) anything; running jobs go on (root or jobd's own user).")

    @OptionGroup var global: GlobalOptions
    @OptionGroup var target: PauseTargetOptions

    func run() throws {
        try global.withConnection { connection in
            _ = try connection.call(Pause.method, target.parameters, returning: Empty.self)
        }
    }
}

struct ResumeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "resume", abstract: "Undo a pause of the same target.")

    @OptionGroup var global: GlobalOptions
    @OptionGroup var target: PauseTargetOptions

    func run() throws {
        try global.withConnection { connection in
            _ = try connection.call(Resume.method, target.parameters, returning: Empty.self)
        }
    }
}
