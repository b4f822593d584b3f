import ArgumentParser
import FoundationEssentials
import JobdClient
import JobdProtocol

struct SubmitCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "submit",
        abstract: "Submit a command (or a batch of jobs) and print the new id.",
        discussion: """
            The command runs without a shell: `jobctl submit -- sh -c 'a | b'` for pipes. It runs in the current \
            directory with the current environment. Prints only the id, so `id=$(jobctl submit -- ...)` works.

            --kind NAME runs a handler instead of a command: jobctl submit --kind sha256 --payload \
            '{"path": "/f"}'. Built-in handlers: sha256 (cpu), noop and sleep (io; {"seconds": N}).

            --batch FILE reads one JSON job per line (the io.jobd JobSpec: {"argv": [...], "class": "io", ...}), \
            submits them in one call and prints one id per line.
            """)

    @OptionGroup var global: GlobalOptions
    @Option(help: "Run this handler instead of a command (sha256, noop, sleep, ...).") var kind: String?
    @Option(help: "The handler's input, as JSON.") var payload: String?
    @Option(help: "A label for list and show.") var name: String?
    @OptionGroup(title: "Job options") var job: JobOptions
    @Option(help: "Start no sooner than this long from now: 500ms, 30s, 10m, 2h, 1d.") var delay: String?
    @Option(help: "Start no sooner than this time: 2026-12-01T03:00 (local time) or 2026-12-01T03:00:00Z (UTC).")
    var at: String?
    @Option(help: "Run only after this job has succeeded (repeat for several).") var after: [Int64] = []
    @Option(name: .customLong("batch"), help: "Submit one JSON job per line of FILE (- for stdin).") var batchFile: String?
    @Flag(help: "Wait for the job and exit with its exit code.") var wait = false
    @Flag(help: "Print {\"id\": N} (or {\"ids\": [...]}).") var json = false
    @Argument(parsing: .captureForPassthrough, help: "The command and its arguments, after --.") var command: [String] = []

    func validate() throws {
        // ArgumentParser hands an unknown option before the command to `command` (passthrough): refuse it
        // rather than run a job named `--delay` (issue 13); `--help` after `submit` is help.
        if let first = command.first, first.hasPrefix("-"), first != "--" {
            if first == "--help" || first == "-h" { throw CleanExit.helpRequest(self) }
            throw ValidationError("unknown option \(first); the command goes after --: jobctl submit [OPTIONS] -- COMMAND [ARG...]")
        }
        if delay != nil && at != nil { throw ValidationError("--delay and --at exclude each other") }
        if let delay, DurationText.seconds(delay, zero: .allowed) == nil {
            throw ValidationError("--delay \(delay): expected a duration such as 500ms, 30s, 10m, 2h or 1d")
        }
        if let at, LocalTime.parse(at) == nil {
            throw ValidationError("--at \(at): expected 2026-12-01T03:00 (local time) or 2026-12-01T03:00:00Z (UTC)")
        }
        if let bad = after.first(where: { $0 < 1 }) { throw ValidationError("--after \(bad): job ids start at 1") }
        if batchFile != nil && !command.isEmpty { throw ValidationError("give --batch or a command, not both") }
        if batchFile != nil {
            let perJob = [("--delay", delay != nil), ("--at", at != nil), ("--after", !after.isEmpty), ("--name", name != nil)]
                .filter(\.1).map(\.0) + job.given
            if let option = perJob.first {
                throw ValidationError("\(option) is for one command; with --batch, give it in each JSON line instead")
            }
        }
        if kind != nil && !arguments.isEmpty { throw ValidationError("give --kind or a command, not both") }
        if payload != nil && kind == nil { throw ValidationError("--payload goes with --kind") }
        if let payload, (try? WireJSON.decode(JSONValue.self, from: Array(payload.utf8))) == nil {
            throw ValidationError("--payload is not JSON: \(payload)")
        }
        if batchFile == nil && kind == nil && arguments.isEmpty {
            throw ValidationError("nothing to run: jobctl submit -- COMMAND [ARG...]")
        }
    }

    /// The command without the `--` separator ArgumentParser may keep.
    private var arguments: [String] { command.first == "--" ? Array(command.dropFirst()) : command }

    func run() throws {
        let specs = try batchFile.map(readBatch) ?? [commandSpec()]
        try Self.submit(specs, socketPath: global.socketPath, wait: wait, json: json, isBatch: batchFile != nil)
    }

    /// Submits `specs`, prints their ids, and with `wait` waits and exits with the jobs' code. The whole
    /// command once its arguments are known; also jobctl's fast path for `submit [--wait] -- COMMAND`.
    static func submit(_ specs: [JobSpec], socketPath: String, wait: Bool, json: Bool, isBatch: Bool) throws {
        // One connection for the submit and the wait: no second connect, accept and peer-credential
        // lookup in the daemon (issue 12).
        let calls = try isBatch ? Self.calls(for: specs) : [specs]
        let ends = try GlobalOptions.withConnection(to: socketPath) { connection -> [JobEnd]? in
            var ids: [JobID] = []
            var existing: [JobID] = []
            for jobs in calls {
                let reply = try connection.call(Submit.method, Submit.Parameters(jobs: jobs), returning: Submit.Reply.self)
                ids += reply.ids
                existing += reply.existing ?? []
            }
            for id in existing {
                printError("note: job \(id) holds this unique key and has not finished; nothing new was submitted")
            }
            // Straight to the descriptor: a Ctrl-C during the wait below must not lose the ids in stdio's
            // buffer (`jobctl submit --wait -- make > out`, interrupted, left `out` empty: issue 18).
            if json {
                writeOut((!isBatch ? try WireJSON.encodePretty(["id": ids[0]]) : try WireJSON.encodePretty(["ids": ids])) + "\n")
            } else {
                writeOut(ids.map(\.description).joined(separator: "\n") + "\n")
            }
            guard wait else { return nil }
            InterruptedWait.sayWhatKeepsRunning(ids)
            return try connection.call(
                Wait.method, Wait.Parameters(ids: ids, statesOnly: true), returning: Wait.StatesReply.self
            ).states
        }
        if let ends { throw ExitCode(ExitStatus.code(for: ends)) }
    }

    /// The largest Submit message jobctl sends: under jobd's default limit of one message (1 MiB), with
    /// room for the envelope.
    static let maximumCallBytes = (1 << 20) - 4096

    /// A batch split into calls that each fit in one message. A batch that needs more than one is said
    /// so on stderr (each call is its own transaction); one whose jobs refer to each other by index
    /// cannot be split, and is refused with exit 65.
    static func calls(for specs: [JobSpec]) throws -> [[JobSpec]] {
        var calls: [[JobSpec]] = [[]]
        var bytes = 0
        for spec in specs {
            let size = (try? WireJSON.encode(spec).count) ?? 0
            if size > maximumCallBytes {
                printError("a job of \(size) bytes does not fit in one message to jobd (\(maximumCallBytes) bytes)")
                throw ExitCode(ExitStatus.invalid)
            }
            if bytes + size + 1 > maximumCallBytes, !(calls.last?.isEmpty ?? true) {
                calls.append([])
                bytes = 0
            }
            calls[calls.count - 1].append(spec)
            bytes += size + 1
        }
        if calls.count > 1 {
            if specs.contains(where: { !($0.afterIndex ?? []).isEmpty }) {
                printError(
                    "the batch is larger than one message to jobd and its jobs refer to each other by after_index; "
                        + "split it into files of at most \(maximumCallBytes) bytes, or refer by id with after")
                throw ExitCode(ExitStatus.invalid)
            }
            printError("note: \(specs.count) jobs are sent in \(calls.count) calls (one message each); each call is stored on its own")
        }
        return calls
    }

    private func commandSpec() -> JobSpec {
        var spec: JobSpec
        if let kind, kind != "exec" {
            spec = JobSpec(kind: kind, payload: payload.flatMap { try? WireJSON.decode(JSONValue.self, from: Array($0.utf8)) })
        } else {
            spec = Self.execSpec(arguments, cwd: job.cwd)
        }
        spec = job.applied(to: spec)
        spec.name = name
        spec.delaySeconds = delay.flatMap { DurationText.seconds($0, zero: .allowed) }
        spec.runAt = at.flatMap(LocalTime.parse)
        spec.after = after.isEmpty ? nil : after.map { JobID(rawValue: $0) }
        return spec
    }

    /// A command job: run in `cwd` (default: the current directory) with this process's environment.
    static func execSpec(_ argv: [String], cwd: String? = nil) -> JobSpec {
        JobSpec(argv: argv, env: ProcessInfo.processInfo.environment, cwd: absoluteDirectory(cwd))
    }

    /// `--cwd` as jobd needs it, absolute: a relative one is taken from jobctl's own directory, as a shell
    /// would (`--cwd work` was refused, issue 18); none is jobctl's own directory.
    static func absoluteDirectory(_ cwd: String?) -> String {
        let here = FileManager.default.currentDirectoryPath
        guard let cwd, !cwd.isEmpty else { return here }
        return cwd.hasPrefix("/") ? cwd : (here == "/" ? "" : here) + "/" + cwd
    }

    private func readBatch(_ path: String) throws -> [JobSpec] {
        let text: String
        if path == "-" {
            var lines: [String] = []
            while let line = readLine(strippingNewline: false) { lines.append(line) }
            text = lines.joined()
        } else {
            guard let contents = FileManager.default.contents(atPath: path) else {
                printError("cannot read \(path)")
                throw ExitCode(ExitStatus.invalid)
            }
            text = String(decoding: contents, as: UTF8.self)
        }
        var specs: [JobSpec] = []
        for (number, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            if line.allSatisfy(\.isWhitespace) { continue }
            do {
                var spec = try WireJSON.decode(JobSpec.self, from: Array(line.utf8))
                if spec.resolvedKind == "exec" { spec.cwd = Self.absoluteDirectory(spec.cwd) }
                specs.append(spec)
            } catch {
                printError("\(path) line \(number + 1) is not a JSON job: \(error)")
                throw ExitCode(ExitStatus.invalid)
            }
        }
        if specs.isEmpty {
            printError("\(path) holds no jobs")
            throw ExitCode(ExitStatus.invalid)
        }
        return specs
    }
}

