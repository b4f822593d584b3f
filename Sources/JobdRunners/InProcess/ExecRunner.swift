import JobdProtocol
import Logging

/// What an exec attempt needs: the command, where its output goes, and its limits.
public struct ExecJob: Sendable {
    public var argv: [String]
    /// The job's environment; nil runs it with the daemon's.
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
        let environment = job.environment ?? daemonEnvironment
        let path: String
        switch ExecutableLookup.resolve(job.argv[0], searchPath: environment["PATH"], cwd: job.cwd) {
        case .success(let found): path = found
        case .failure(let failure):
            control.finished()
            return RunOutcome(error: failure.description, wallSeconds: 0)
        }
        let request = SpawnRequest(
            path: path, argv: job.argv, environment: environment.map { "\($0.key)=\($0.value)" }, cwd: job.cwd,
            identity: job.identity, outputPath: job.outputPath, outputLimit: job.outputLimit)

        let result = await withTaskGroup(of: ChildResult?.self) { group in
            group.addTask {
                let result = await reactor.run(request) { pid in
                    control.started(processGroup: pid)
                    started(pid)
                }
                control.finished()
                return result
            }
            group.addTask {
                await enforceStops(control: control, timeout: job.timeout)
                return nil
            }
            var childResult: ChildResult?
            for await result in group where result != nil {
                childResult = result
                group.cancelAll()  // the watchdog
            }
            return childResult!
        }
        return Self.outcome(of: result, stop: control.stopReason)
    }

    /// Stops the attempt at its timeout or when asked, escalating to SIGKILL after the grace period.
    /// Returns when the attempt is over (this task is cancelled then).
    private func enforceStops(control: RunControl, timeout: Duration?) async {
        let reason = await withTaskGroup(of: StopReason?.self) { group in
            if let timeout {
                group.addTask {
                    do {
                        try await Task.sleep(for: timeout)
                        return .timedOut(timeout)
                    } catch {
                        return nil
                    }
                }
            }
            group.addTask { await control.firstStopRequest() }
            let first = await group.next() ?? nil
            group.cancelAll()
            return first
        }
        guard let reason else { return }
        control.stop(reason)  // a timeout is delivered here; an outside stop already was
        do {
            try await Task.sleep(for: killGrace)
        } catch {
            return  // it exited within the grace period
        }
        control.signal(SIGKILL_VALUE)
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
                maxRSSBytes: exit.maxRSSBytes)
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
        let (seconds, attoseconds) = components
        let value = Double(seconds) + Double(attoseconds) / 1e18
        return value == value.rounded() ? "\(Int64(value))s" : "\(value)s"
    }
}
