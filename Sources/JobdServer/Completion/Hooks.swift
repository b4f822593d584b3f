import JobdProtocol
import JobdRunners
import JobdStore
import Logging

/// On-finish hooks (issue 13): a job's `on_success` / `on_failure`, and the daemon-wide `--on-finish`,
/// each run as a job of its own — `sh -c CMD`, I/O class, with the finished job's JSON (as
/// `jobctl show --json` prints it, its attempts in `attempt_records`) on stdin — so a hook's failure is
/// as visible as any job's.
///
/// A job's hooks run as its owner, in its directory and environment; the daemon-wide hook runs as the
/// daemon's own user (an administrator configured it). A hook's job has no hooks of its own, and the
/// daemon-wide hook does not run for hook jobs: no hook ever triggers itself.
struct Hooks: Sendable {
    let store: any JobStore
    let logsDirectory: String
    /// The daemon-wide hook, run when any job ends; nil: none.
    let onFinish: String?
    let logger: Logger
    let now: @Sendable () -> Timestamp

    /// Whether a job that ended as `state` may have a hook to run (its plan says whether it has its own).
    func applies(hasOwnHooks: Bool, state: JobState) -> Bool {
        state.isFinished && (hasOwnHooks || onFinish != nil)
    }

    /// Submits the hooks of the job that ended as `state`. - Returns: the hook jobs to hand to the dispatcher.
    func jobs(for id: JobID, ended state: JobState) async -> [(job: Job, waitsFor: [JobID])] {
        guard let finished = try? await store.job(id), finished.hookOf == nil else { return [] }
        var commands: [(command: String, asDaemon: Bool)] = []
        switch state {
        case .succeeded: if let command = finished.onSuccess { commands.append((command, false)) }
        case .failed, .dead: if let command = finished.onFailure { commands.append((command, false)) }
        case .cancelled, .scheduled, .queued, .running: break
        }
        if let onFinish { commands.append((onFinish, true)) }
        guard !commands.isEmpty else { return [] }
        // Its attempts too, as `jobctl show --json` prints them; a failed read of them (the job is read
        // already) still runs the hook, with none listed, rather than losing it.
        let attempts = (try? await store.attempts(of: id)) ?? []
        guard let stdin = try? WireJSON.encodePretty(JobWithAttempts(job: finished, attempts: attempts)) else {
            return []
        }
        var accepted: [(job: Job, waitsFor: [JobID])] = []
        for (command, asDaemon) in commands {
            let owner = asDaemon ? SystemInfo.userID : finished.ownerUID
            let spec = JobSpec(
                argv: ["/bin/sh", "-c", command], env: asDaemon ? nil : finished.env,
                cwd: asDaemon ? "/" : finished.cwd ?? "/", name: "hook of job \(id)", queue: finished.queue, class: .io)
            let newJob = {
                var job = NewJob(
                    spec: spec, class: .io, classSource: .hint, classReason: "a hook runs as an I/O job",
                    ownerUID: owner, ownerGID: asDaemon ? SystemInfo.groupID : finished.ownerGID, createdAt: now())
                job.hookOf = id
                return job
            }()
            do {
                guard let hookID = try await store.submit([newJob]).ids.first else { continue }
                // Its stdin is in place before the dispatcher can start it.
                if let failure = OutputLog.write(Array(stdin.utf8), to: OutputLog.stdinPath(of: hookID, in: logsDirectory)) {
                    logger.error("hook job \(hookID) of job \(id): could not write its stdin: \(failure)")
                }
                accepted.append((newJob.record(id: hookID), []))
                logger.info("job \(id) \(state.rawValue): its hook runs as job \(hookID)", metadata: ["job": "\(id)"])
            } catch {
                logger.error("job \(id) \(state.rawValue): could not submit its hook: \(error)", metadata: ["job": "\(id)"])
            }
        }
        return accepted
    }
}
