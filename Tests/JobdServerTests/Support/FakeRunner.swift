import JobdProtocol
@testable import JobdRunners
import JobdTestSupport
import Synchronization

/// A scripted `Runner`: each attempt it is handed is recorded, and its script says how the attempt ends —
/// at once (success, an exit code, an error) or when the test releases it or the dispatcher stops it.
///
/// A blocked attempt ends on `release(_:)`, or on a stop through its `RunControl` (cancel, timeout,
/// shutdown), the way a killed process would: SIGTERM, exit by signal 15.
final class FakeRunner: Runner {
    /// How one attempt ends.
    enum Step: Sendable {
        /// Exit 0.
        case succeed
        /// The command exited with this code.
        case exit(Int)
        /// The attempt could not run (what a runner reports as `error`).
        case error(String)
        /// Runs until `release(_:)` or a stop.
        case block
        /// Runs past the attempt's timeout: the runner stops it itself, as the real ones do.
        case timeOut
    }

    /// One attempt as the runner received it.
    struct Received: Sendable {
        var attempt: Attempt
        /// Why it was stopped, if it was (read as it ended).
        var stop: StopReason?
    }

    private struct Blocked {
        var continuation: CheckedContinuation<RunOutcome, Never>
    }

    private struct State {
        var received: [Received] = []
        var blocked: [JobID: Blocked] = [:]
        /// Releases that arrived before their attempt blocked.
        var earlyReleases: [JobID: RunOutcome] = [:]
    }

    let name: String
    private let script: @Sendable (Attempt, _ attemptsOfThisJobBefore: Int) -> Step
    /// Called as each attempt starts (before its step), e.g. to move a test clock or write output.
    private let onStart: @Sendable (Attempt) -> Void
    private let state = Mutex(State())

    /// - Parameters:
    ///   - script: how each attempt ends, given it and how many attempts of the same job this runner ran before.
    init(
        _ name: String, onStart: @escaping @Sendable (Attempt) -> Void = { _ in },
        script: @escaping @Sendable (Attempt, Int) -> Step = { _, _ in .succeed }
    ) {
        self.name = name
        self.script = script
        self.onStart = onStart
    }

    /// Every step the same.
    convenience init(_ name: String, always step: Step) {
        self.init(name, script: { _, _ in step })
    }

    func run(_ attempt: Attempt, control: RunControl) async -> RunOutcome {
        let before = state.withLock { state in
            let before = state.received.count { $0.attempt.job == attempt.job }
            state.received.append(Received(attempt: attempt))
            return before
        }
        control.began()  // a real runner says so once the process runs
        onStart(attempt)
        let outcome: RunOutcome
        switch script(attempt, before) {
        case .succeed: outcome = RunOutcome(exitCode: 0, wallSeconds: 0)
        case .exit(let code): outcome = RunOutcome(exitCode: code, error: "exit status \(code)", wallSeconds: 0)
        case .error(let text): outcome = RunOutcome(error: text, wallSeconds: 0)
        case .block: outcome = await blockUntilReleasedOrStopped(attempt.job, control: control)
        case .timeOut:
            let limit = attempt.timeout ?? .seconds(1)
            control.stop(.timedOut(limit))
            outcome = RunOutcome(signal: 15, error: "timeout after \(limit)", wallSeconds: 0)
        }
        control.finished()
        let stop = control.stopReason
        state.withLock { state in
            if let index = state.received.lastIndex(where: { $0.attempt.job == attempt.job }) {
                state.received[index].stop = stop
            }
        }
        return outcome
    }

    private func blockUntilReleasedOrStopped(_ id: JobID, control: RunControl) async -> RunOutcome {
        await withCheckedContinuation { continuation in
            let early = state.withLock { state -> RunOutcome? in
                if let outcome = state.earlyReleases.removeValue(forKey: id) { return outcome }
                state.blocked[id] = Blocked(continuation: continuation)
                return nil
            }
            if let early {
                continuation.resume(returning: early)
                return
            }
            // As a killed process ends: by SIGTERM. Called at once if the stop came before.
            control.onStop { [weak self] reason in
                self?.end(id, with: RunOutcome(signal: 15, error: "stopped (\(reason))", wallSeconds: 0))
            }
        }
    }

    /// Ends a blocked attempt of the job with this outcome (success by default); an attempt that has not
    /// blocked yet ends this way as soon as it does.
    func release(_ id: JobID, with outcome: RunOutcome = RunOutcome(exitCode: 0, wallSeconds: 0)) {
        if !end(id, with: outcome) {
            state.withLock { $0.earlyReleases[id] = outcome }
        }
    }

    @discardableResult
    private func end(_ id: JobID, with outcome: RunOutcome) -> Bool {
        let blocked = state.withLock { $0.blocked.removeValue(forKey: id) }
        blocked?.continuation.resume(returning: outcome)
        return blocked != nil
    }

    // MARK: - What it saw

    /// Every attempt received, in order.
    var received: [Received] { state.withLock { $0.received } }
    var attempts: [Attempt] { received.map(\.attempt) }
    /// The attempts of one job, in order.
    func attempts(of id: JobID) -> [Attempt] { attempts.filter { $0.job == id } }
    /// Whether an attempt of the job is blocked in the runner now.
    func isBlocking(_ id: JobID) -> Bool { state.withLock { $0.blocked[id] != nil } }

    /// Returns once an attempt of the job blocks in the runner; fails after `limit`.
    func waitUntilBlocking(_ id: JobID, within limit: Duration = .seconds(5)) async throws {
        try await eventually("job \(id) is running in the \(name) runner", within: limit) {
            isBlocking(id) ? true : nil
        }
    }
}
