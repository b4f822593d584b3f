import ArgumentParser
import JobdProtocol

/// The options that shape one job, the same for `submit` and `schedule add`: one place to add a job
/// option to both, checked the same way in both.
struct JobOptions: ParsableArguments {
    @Flag(help: "The job is CPU-bound: run it in the worker pool.") var cpu = false
    @Flag(help: "The job is I/O-bound: run it as a task in the daemon.") var io = false
    @Option(help: "The queue.") var queue: String?
    // Unconditional: `--priority -5` is a value, not an unknown option.
    @Option(parsing: .unconditional, help: "Higher runs first (-1000000 to 1000000; default 0).") var priority: Int?
    @Option(help: "Kill the job after this long: 500ms, 30s, 10m, 2h.") var timeout: String?
    @Option(help: "Run again after a failure, up to this many more times (0 to 99).") var retries: Int?
    @Option(help: "How the pause before a retry grows: exp (doubles, with jitter, capped at 1h) or fixed.")
    var backoff: Backoff?
    @Option(help: "The first pause before a retry (every pause, with --backoff fixed): 500ms, 30s, 10m. Default 1s.")
    var backoffDelay: String?
    @Option(help: "While an unfinished job of yours has this key, print its id and submit nothing.") var unique: String?
    @Option(help: "When the job succeeds, run this shell command line as a job of its own (the job's JSON on stdin).")
    var onSuccess: String?
    @Option(help: "When the job fails or ends dead, run this shell command line as a job of its own (the job's JSON on stdin).")
    var onFailure: String?
    @Option(help: "Working directory; a relative one is taken from the current one (default: the current one).")
    var cwd: String?

    func validate() throws {
        if cpu && io { throw ValidationError("--cpu and --io exclude each other") }
        if let timeout, DurationText.seconds(timeout).map({ $0 <= 0 }) ?? true {
            if timeout.allSatisfy({ $0 == "0" || $0 == "s" || $0 == "m" || $0 == "h" || $0 == "d" }) {
                throw ValidationError("--timeout must be more than 0; without --timeout a job has no time limit")
            }
            throw ValidationError("--timeout \(timeout): expected a duration such as 500ms, 30s, 10m or 2h")
        }
        if let backoffDelay, DurationText.seconds(backoffDelay, zero: .allowed) == nil {
            throw ValidationError("--backoff-delay \(backoffDelay): expected a duration such as 500ms, 30s or 10m")
        }
        // Checked here too, so `retries + 1` cannot overflow; the daemon checks max_attempts again.
        let maxRetries = JobLimits.maxAttemptsRange.upperBound - 1
        if let retries, !(0...maxRetries).contains(retries) {
            throw ValidationError("--retries is 0 to \(maxRetries): jobd caps attempts so a failing job cannot retry without bound")
        }
    }

    var jobClass: JobClass? { cpu ? .cpu : io ? .io : nil }

    /// The options given, by name: with `--batch` each job's options come from its JSON line instead.
    var given: [String] {
        [
            ("--cpu", cpu), ("--io", io), ("--queue", queue != nil), ("--priority", priority != nil),
            ("--timeout", timeout != nil), ("--retries", retries != nil), ("--backoff", backoff != nil),
            ("--backoff-delay", backoffDelay != nil), ("--unique", unique != nil), ("--on-success", onSuccess != nil),
            ("--on-failure", onFailure != nil),
        ].filter(\.1).map(\.0)
    }

    /// `spec` with these options (a command job's `cwd` is set where it is built, see ``SubmitCommand``).
    func applied(to spec: JobSpec) -> JobSpec {
        var spec = spec
        spec.queue = queue
        spec.class = jobClass
        spec.priority = priority
        spec.timeoutSeconds = timeout.flatMap { DurationText.seconds($0) }
        spec.maxAttempts = retries.map { $0 + 1 }
        spec.backoff = backoff
        spec.backoffSeconds = backoffDelay.flatMap { DurationText.seconds($0, zero: .allowed) }
        spec.uniqueKey = unique
        spec.onSuccess = onSuccess
        spec.onFailure = onFailure
        return spec
    }
}

extension Backoff: ExpressibleByArgument {}
