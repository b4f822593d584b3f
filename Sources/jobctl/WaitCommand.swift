import ArgumentParser
import JobdClient
import JobdProtocol

struct WaitCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "wait",
        abstract: "Wait until jobs finish; exit with the job's exit code.",
        discussion: """
            One job: exits 0 if it succeeded, its exit code if it has one, 1 if it failed without one
            (signal, could not start, timeout), 130 if it was cancelled. Several: 0 only if all succeeded,
            else the code of the first that did not, in argument order.
            `-` reads ids from stdin, one per line or separated by spaces, so a batch waits as one call:
            jobctl submit --batch jobs.jsonl | jobctl wait -
            """)

    @OptionGroup var global: GlobalOptions
    @Argument(help: "Job ids, or - to read them from stdin.") var ids: [String]

    func validate() throws {
        if ids.isEmpty { throw ValidationError("name at least one job id, or - to read ids from stdin") }
        if let bad = ids.first(where: { $0 != "-" && Int64($0) == nil }) {
            throw ValidationError("\(bad) is not a job id")
        }
    }

    /// The ids to wait for: arguments as given, `-` replaced by the ids on stdin. (Thousands of ids as
    /// arguments are slow to parse; stdin is read in one pass.)
    private func resolvedIDs() throws -> [JobID] {
        var result: [JobID] = []
        for argument in ids {
            guard argument == "-" else {
                result.append(JobID(Int64(argument)!))
                continue
            }
            while let line = readLine() {
                for word in line.split(whereSeparator: { $0 == " " || $0 == "\t" }) {
                    guard let id = Int64(word) else {
                        printError("stdin: \(word) is not a job id")
                        throw ExitCode(ExitStatus.invalid)
                    }
                    result.append(JobID(id))
                }
            }
        }
        if result.isEmpty {
            printError("no job ids on stdin")
            throw ExitCode(ExitStatus.invalid)
        }
        return result
    }

    func run() throws {
        let wanted = try resolvedIDs()
        // States only: the exit code is all jobctl needs, and the reply stays small for any batch.
        let ends = try global.withConnection { connection in
            try connection.call(
                Wait.method, Wait.Parameters(ids: wanted, statesOnly: true), returning: Wait.StatesReply.self
            ).states
        }
        let code = ExitStatus.code(for: ends)
        if code != 0 { throw ExitCode(code) }
    }
}
