import JobdProtocol
import Logging

/// Runs `exec` jobs as tasks of the daemon: the child process is awaited on the reactor thread, so a
/// thousand running jobs hold no thread of the cooperative pool.
public struct ExecRunner: Runner {
    let reactor: ProcessReactor
    /// How long a stopped job has between SIGTERM and SIGKILL, as it is when the stop comes.
    public let killGrace: Setting<Duration>
    let daemonEnvironment: [String: String]
    /// Told each attempt's process group once its command runs (a worker reports it to the daemon).
    let started: @Sendable (JobID, Int32) -> Void

    public init(
        reactor: ProcessReactor, killGrace: Setting<Duration>, daemonEnvironment: [String: String],
        started: @escaping @Sendable (JobID, Int32) -> Void = { _, _ in }
    ) {
        self.reactor = reactor
        self.killGrace = killGrace
        self.daemonEnvironment = daemonEnvironment
        self.started = started
    }

    /// Runs one attempt to its end. Never throws: a failure to start is an outcome with an `error`.
    public func run(_ job: Attempt, control: RunControl) async -> RunOutcome {
        guard case .exec(let argv) = job.work else {
            control.finished()
            return RunOutcome(error: "the exec runner was handed a handler job", wallSeconds: 0)
        }
        let environment = job.environment ?? defaultEnvironment(for: job)
        guard let command = argv.first else {
            control.finished()
            return RunOutcome(error: "could not start: the job has no command (argv is empty)", wallSeconds: 0)
        }
        // A hook's job reads the finished job's JSON on stdin: the daemon wrote the file, and opens it for
        // the child (dup2'd to its fd 0 in the spawn); closed here once the child has it.
        var stdin: Int32 = -1
        if let stdinPath = job.stdinPath {
            switch FileAccess.openForReading(stdinPath, as: nil) {
            case .success(let fd): stdin = fd
            case .failure(let failure):
                control.finished()
                return RunOutcome(error: "could not start: its stdin \(stdinPath): \(failure)", wallSeconds: 0)
            }
        }
        defer { if stdin >= 0 { FileAccess.close(stdin) } }
        // The command is looked up on PATH by the child itself, once it is the job's owner: no path of the
        // owner's is touched with the daemon's rights, nor on a thread other jobs need.
        let request = SpawnRequest(
            path: command, searchPath: environment["PATH"], argv: argv,
            environment: environment.map { "\($0.key)=\($0.value)" }, cwd: job.cwd,
            identity: job.identity, stdio: .captured(
                path: job.outputPath, indexPath: OutputIndex.path(besideLog: job.outputPath), limit: job.outputLimit,
                stdin: stdin))

        let started = started
        let result = await StoppableProcess.run(
            request, reactor: reactor, control: control, timeout: job.timeout, killGrace: killGrace
        ) { pid in started(job.job, pid) }
        return Self.outcome(of: result, stop: control.stopReason)
    }

    /// What a job submitted without `env` runs with. Under a root daemon: a clean login-like environment
    /// of its owner (the daemon's own, with root's HOME and whatever systemd or an admin's shell put
    /// there, is none of a user's business); `identity` is nil there only for root's own jobs. Under any
    /// other daemon: the daemon's environment, since the daemon's user is the job's owner.
    private func defaultEnvironment(for job: Attempt) -> [String: String] {
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

/// One attempt's process, started and awaited, with its stops: a stop (cancel, timeout, shutdown) sends
/// SIGTERM to its process group, and SIGKILL after the kill grace unless it is gone by then.
enum StoppableProcess {
    /// - Parameter started: told the pid (its process group) once it runs.
    static func run(
        _ request: SpawnRequest, reactor: ProcessReactor, control: RunControl, timeout: Duration?, killGrace: Setting<Duration>,
        started: @escaping @Sendable (Int32) -> Void = { _ in }
    ) async -> ChildResult {
        // Stops arrive by callback: stop() has sent SIGTERM to the group. Only an attempt with a timeout
        // gets a timer task.
        control.onStop { _ in
            let grace = killGrace.value
            Task {
                try await Task.sleep(for: grace)
                control.signal(SIGKILL_VALUE)  // does nothing once the attempt has finished
            }
        }
        let timer = timeout.map { limit in
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
        return result
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
