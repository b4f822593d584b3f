import JobdHandlers
import JobdProtocol
import Synchronization

/// Runs one attempt of a handler in this process, as a task: in the daemon for an I/O-class job, in a
/// worker for a CPU-class one. A stop (cancel, timeout, shutdown) cancels the task and sets the context's
/// flag; the handler decides how soon it notices.
public struct HandlerRunner: Runner {
    /// Where a handler's output goes.
    public enum Output: Sendable {
        /// Appended to the attempt's log file, within its limit (in the daemon).
        case logFile
        /// Handed over as written (in a worker, which sends it to the daemon in frames).
        case sink(@Sendable (JobID, [UInt8]) -> Void)
    }

    let registry: HandlerRegistry
    /// True in a worker, which runs one job at a time: the process's CPU time over the attempt is the
    /// job's. The daemon runs many jobs at once and reports none for its in-process handlers.
    public var measuresProcessCPU: Bool
    /// How long a stopped handler has to return before its slot is taken back (see ``run``), as it is
    /// when the stop comes.
    public let killGrace: Setting<Duration>
    let output: Output

    public init(registry: HandlerRegistry, measuresProcessCPU: Bool, killGrace: Setting<Duration>, output: Output) {
        self.registry = registry
        self.measuresProcessCPU = measuresProcessCPU
        self.killGrace = killGrace
        self.output = output
    }

    public func run(_ attempt: Attempt, control: RunControl) async -> RunOutcome {
        guard case .handler(let name, let payload) = attempt.work, case .handler(let handler)? = registry.kind(named: name)
        else {
            control.finished()
            let name = if case .handler(let name, _) = attempt.work { name } else { HandlerRegistry.execKind }
            return RunOutcome(error: "this jobd has no handler named \(name)", wallSeconds: 0)
        }
        switch output {
        case .sink(let sink):
            return await run(handler, payload: payload, attempt: attempt, output: { sink(attempt.job, $0) }, control: control)
        case .logFile:
            let log = OutputAppender(path: attempt.outputPath, limit: attempt.outputLimit)
            defer { log.close() }
            return await run(handler, payload: payload, attempt: attempt, output: { log.append($0) }, control: control)
        }
    }

    private func run(
        _ handler: any JobHandler, payload: JSONValue, attempt: Attempt, output: @escaping @Sendable ([UInt8]) -> Void,
        control: RunControl
    ) async -> RunOutcome {
        let identity = attempt.identity
        let context = HandlerContext(jobID: attempt.job, output: output) { path in
            FileAccess.openForReading(path, as: identity).mapError { HandlerError($0.description) }
        }
        let start = ContinuousClock.now
        control.began()
        let cpuBefore = measuresProcessCPU ? SystemInfo.processCPUTime : nil
        // The handler runs as a task of its own so a stop can cancel it, and so the attempt can end without
        // it: a handler that ignores cancellation (a blocking read of a FIFO that nobody writes) cannot be
        // killed, being a thread of ours, not a process. Its slot is taken back `killGrace` after a stop,
        // and the attempt fails saying so; the abandoned task ends whenever its call returns. Whichever of
        // the two resolves `ending` first wins. Stops arrive by callback, and a timer task exists only for
        // a job with a timeout (most have none): one task per attempt, since each holds memory for as long
        // as the job runs (5,000 sleepers, issue 12).
        let ending = HandlerEnding()
        let work = Task {
            do throws(HandlerError) {
                ending.resolve(.returned(.success(try await handler.run(payload, context: context))))
            } catch {
                ending.resolve(.returned(.failure(error)))
            }
        }
        let killGrace = killGrace
        let grace = Mutex<Duration?>(nil)  // the grace this stop was given, for the message below
        control.onStop { _ in
            context.cancel()
            work.cancel()
            let given = killGrace.value
            grace.withLock { $0 = given }
            Task {
                try await Task.sleep(for: given)
                ending.resolve(.abandoned)
            }
        }
        let timer = attempt.timeout.map { limit in
            Task {
                try await Task.sleep(for: limit)
                control.stop(.timedOut(limit))
            }
        }
        let end = await withTaskCancellationHandler {
            await ending.value()
        } onCancel: {
            context.cancel()
            work.cancel()
        }
        timer?.cancel()
        control.finished()
        let wall = (ContinuousClock.now - start).inSeconds
        var outcome = RunOutcome(wallSeconds: wall)
        if let cpuBefore {
            let cpuAfter = SystemInfo.processCPUTime
            outcome.cpuUserSeconds = max(0, cpuAfter.user - cpuBefore.user)
            outcome.cpuSystemSeconds = max(0, cpuAfter.system - cpuBefore.system)
            outcome.maxRSSBytes = cpuAfter.peakRSSBytes
        }
        guard case .returned(let result) = end else {
            let why = control.stopReason?.failureText ?? "stopped"
            let given = grace.withLock { $0 } ?? killGrace.value
            outcome.error = "\(why); the handler ignored cancellation for \(given.formattedSeconds), so its slot was freed"
            return outcome
        }
        switch result {
        case .success(let value) where control.stopReason == nil || control.stopReason == .shutdown:
            outcome.exitCode = 0
            outcome.result = value
        case .success:
            outcome.error = control.stopReason?.failureText
        case .failure(let error):
            outcome.error = control.stopReason?.failureText ?? error.message
        }
        return outcome
    }
}

extension StopReason {
    /// The sentence an attempt stopped for this reason fails with.
    public var failureText: String {
        switch self {
        case .timedOut(let limit): "timeout: still running after \(limit.formattedSeconds); it was stopped"
        case .cancelled: "cancelled while running"
        case .shutdown: "jobd shut down while it ran"
        }
    }
}

/// How a handler attempt ended: it returned, or it was abandoned after ignoring a stop. Whichever comes
/// first wins; the other is dropped.
private final class HandlerEnding: Sendable {
    enum End: Sendable {
        case returned(Result<JSONValue, HandlerError>)
        case abandoned
    }

    private enum State {
        case pending(CheckedContinuation<End, Never>?)
        case resolved(End)
    }

    private let state = Mutex(State.pending(nil))

    func resolve(_ end: End) {
        let waiting = state.withLock { state -> CheckedContinuation<End, Never>?? in
            guard case .pending(let continuation) = state else { return .none }
            state = .resolved(end)
            return .some(continuation)
        }
        if case .some(let continuation?) = waiting { continuation.resume(returning: end) }
    }

    func value() async -> End {
        await withCheckedContinuation { continuation in
            let done = state.withLock { state -> End? in
                switch state {
                case .pending: state = .pending(continuation); return nil
                case .resolved(let end): return end
                }
            }
            if let done { continuation.resume(returning: done) }
        }
    }
}
