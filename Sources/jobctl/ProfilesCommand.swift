import ArgumentParser
import JobdClient
import JobdProtocol

/// `jobctl profiles`: what jobd learned about each signature, and the two ways to overrule it.
struct ProfilesCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "profiles",
        abstract: "List what jobd learned about each command: runs, CPU ratio, class.",
        discussion: """
            A signature is a handler's kind, or an exec job's resolved command (for interpreters, with its
            script). Each user's runs teach only that user's profiles; root sees every user's. Above a CPU ratio of 0.6 a signature becomes cpu, below 0.3 io; in between it keeps its
            class. A ratio above 1 is about the number of cores the command kept busy.
            """,
        subcommands: [List.self, Reset.self, Pin.self],
        defaultSubcommand: List.self)

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "list", abstract: "List the profiles (the default).")

        @OptionGroup var global: GlobalOptions
        @Flag(help: "Print JSON: an array of profiles.") var json = false

        func run() throws {
            let profiles = try global.withConnection { connection in
                try connection.call(Profiles.method, Profiles.Parameters(), returning: Profiles.Reply.self).profiles
            }
            if json {
                try printJSON(profiles)
                return
            }
            // DEMAND (CPU + run-queue wait per wall-s) decides the class; CPU RATIO is the share it got.
            var table = Table("OWNER", "SIGNATURE", "RUNS", "CPU RATIO", "DEMAND", "CLASS", "CHANGED", "PINNED")
            for profile in profiles {
                let ratio = Profile.format(profile.cpuRatio) + (profile.cpuRatio > 1.05 ? " (≈\(Profile.format(profile.cpuRatio)) cores)" : "")
                table.add([
                    profile.ownerUID.map { "uid \($0)" } ?? "everyone", profile.signature, String(profile.runs), ratio, Profile.format(profile.demandRatio), profile.learnedClass?.rawValue ?? "-",
                    profile.changedAt?.description ?? "-", profile.pinned?.rawValue ?? "-",
                ])
            }
            print(table.render())
        }
    }

    struct Reset: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "reset", abstract: "Forget a signature: its next job is classified from scratch.")

        @OptionGroup var global: GlobalOptions
        @Argument(help: "The signature, as `jobctl profiles` prints it.") var signature: String
        @Flag(help: "Remove the pin for everyone (root or the daemon's user) instead of your own profile.")
        var everyone = false

        func run() throws {
            try global.withConnection { connection in
                _ = try connection.call(
                    ResetProfile.method, ResetProfile.Parameters(signature: signature, everyone: everyone ? true : nil),
                    returning: ResetProfile.Reply.self)
            }
        }
    }

    struct Pin: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "pin", abstract: "Fix a signature's class whatever its runs show (none unpins).")

        @OptionGroup var global: GlobalOptions
        @Argument(help: "The signature, as `jobctl profiles` prints it.") var signature: String
        @Argument(help: "cpu, io, or none.") var jobClass: String
        @Flag(help: "Pin it for every user (root or the daemon's user only); without it, for your own jobs.")
        var everyone = false

        func validate() throws {
            if jobClass != "none" && JobClass(rawValue: jobClass) == nil {
                throw ValidationError("the class is cpu, io or none, not \(jobClass)")
            }
        }

        func run() throws {
            let profile = try global.withConnection { connection in
                try connection.call(
                    PinProfile.method, PinProfile.Parameters(
                        signature: signature, class: JobClass(rawValue: jobClass), everyone: everyone ? true : nil),
                    returning: PinProfile.Reply.self
                ).profile
            }
            print("\(profile.signature): \(profile.pinned.map { "pinned to \($0.rawValue)" } ?? "unpinned")")
        }
    }
}
