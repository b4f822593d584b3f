import JobdProtocol
import Logging

/// What an exec attempt needs: the command, where its output goes, and its limits.
public struct ExecJob: Sendable {
    public var argv: [String]
    /// The job's environment; nil: a clean one for its owner under a root daemon, else the daemon's.
    public var environment: [String: String]?
    public var cwd: String?
    public var identity: (uid: UInt32, gid: UInt32)?
    public var outputPath: String
    public var outputLimit: Int64
    public var timeout: Duration?

    public init(
        argv: [String], environment: [String: String]?, cwd: String?, identity: (uid: UInt32, gid: UInt32)?,
        outputPath: String, outputLimit: Int64, timeout: Duration?
    ) {
        self.argv = argv
        self.environment = environment
        self.cwd = cwd
        self.identity = identity
        self.outputPath = outputPath
        self.outputLimit = outputLimit
        self.timeout = timeout
    }
}

/// Runs `exec` jobs as tasks of the daemon: the child process is awaited on the reactor thread, so a
/// thousand running jobs hold no thread of the cooperative pool.
public struct ExecRunner: Sendable {
    let reactor: ProcessReactor
    /// How long a stopped job has between SIGTERM and SIGKILL.
    public var killGrace: Duration
    let daemonEnvironment: [String: String]

    public init(reactor: ProcessReactor, killGrace: Duration, daemonEnvironment: [String: String]) {
        self.reactor = reactor
        self.killGrace = killGrace
        self.daemonEnvironment = daemonEnvironment
    }

    /// Runs one attempt to its end. Never throws: a failure to start is an outcome with an `error`.
    /// - Parameter started: called with the process group once the command runs (a worker reports it).
    public func run(
        _ job: ExecJob, control: RunControl, started: @escaping @Sendable (Int32) -> Void = { _ in }
    ) async -> RunOutcome {
        let environment = job.environment ?? defaultEnvironment(for: job)
        guard let command = job.argv.first else {
            control.finished()
            return RunOutcome(error: "could not start: the job has no command (argv is empty)", wallSeconds: 0)
        }
        let path: String
        switch ExecutableLookup.resolve(command, searchPath: environment["PATH"], cwd: job.cwd, as: job.identity) {
        case .success(let found): path = found
        case .failure(let failure):
            control.finished()
            return RunOutcome(error: failure.description, wallSeconds: 0)
        }
        let request = SpawnRequest(
            path: path, argv: job.argv, environment: environment.map { "\($0.key)=\($0.value)" }, cwd: job.cwd,
            identity: job.identity, outputPath: job.outputPath, outputLimit: job.outputLimit)

        // Stops arrive by callback: stop() has sent SIGTERM to the group; SIGKILL follows after the grace
        // period unless the process is gone by then. Only a job with a timeout gets a timer task.
        let killGrace = killGrace
        control.onStop { _ in
            Task {
                try await Task.sleep(for: killGrace)
                control.signal(SIGKILL_VALUE)  // does nothing once the attempt has finished
            }
        }
        let timer = job.timeout.map { limit in
            Task {
                try await Task.sleep(for: limit)
                control.stop(.timedOut(limit))
            }
        }
        let result = await reactor.run(request) { pid in
            control.started(processGroup: pid)
            started(pid)
        }
        control.finished()
        timer?.cancel()
        return Self.outcome(of: result, stop: control.stopReason)
    }

    /// What the sampler has seen so far of a running job's process group (CPU, run-queue wait, peak
    /// resident set); nil before its first sample.
    public func usage(ofGroup pgid: Int32) -> TreeUsage? { reactor.usage(ofGroup: pgid) }

    /// What a job submitted without `env` runs with. Under a root daemon: a clean login-like environment
    /// of its owner (the daemon's own, with root's HOME and whatever systemd or an admin's shell put
    /// there, is none of a user's business); `identity` is nil there only for root's own jobs. Under any
    /// other daemon: the daemon's environment, since the daemon's user is the job's owner.
    private func defaultEnvironment(for job: ExecJob) -> [String: String] {
        guard SystemInfo.userID == 0 else { return daemonEnvironment }
        return ProcessEnvironment.clean(forUser: job.identity?.uid ?? 0)
    }

    static func outcome(of result: ChildResult, stop: StopReason?) -> RunOutcome {
        switch result {
        case .failedToStart(let reason):
            return RunOutcome(error: reason, wallSeconds: 0)
        case .exited(let exit):
            var error: String?
            if let signal = exit.signal {
                error = "killed by signal \(signal) (\(signalName(signal)))"
            } else if let code = exit.exitCode, code != 0 {
                error = "exited with code \(code)"
            }
            switch stop {
            case .timedOut(let limit): error = "timeout: still running after \(limit.formattedSeconds); its process group was killed"
            case .cancelled: error = "cancelled while running"
            case .shutdown: error = "jobd shut down while it ran"
            case nil: break
            }
            return RunOutcome(
                exitCode: exit.exitCode, signal: exit.signal.map(Int.init), error: error, wallSeconds: exit.wallSeconds,
                cpuUserSeconds: exit.cpuUserSeconds, cpuSystemSeconds: exit.cpuSystemSeconds,
                maxRSSBytes: exit.maxRSSBytes > 0 ? exit.maxRSSBytes : nil, waitSeconds: exit.usage?.waitSeconds)
        }
    }
}

/// The conventional name of a signal number on Linux.
public func signalName(_ number: Int32) -> String {
    let names: [Int32: String] = [
        1: "SIGHUP", 2: "SIGINT", 3: "SIGQUIT", 4: "SIGILL", 5: "SIGTRAP", 6: "SIGABRT", 7: "SIGBUS", 8: "SIGFPE",
        9: "SIGKILL", 10: "SIGUSR1", 11: "SIGSEGV", 12: "SIGUSR2", 13: "SIGPIPE", 14: "SIGALRM", 15: "SIGTERM",
        24: "SIGXCPU", 25: "SIGXFSZ",
    ]
    return names[number] ?? "signal \(number)"
}

extension Duration {
    /// `1.5s`, for messages.
    var formattedSeconds: String {
        let value = inSeconds
        if value == value.rounded(), let whole = Int64(exactly: value) { return "\(whole)s" }
        return "\(value)s"
    }
}
