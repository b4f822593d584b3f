import JobdProtocol
import JobdRunners

/// What a finished run teaches (DESIGN §3): its CPU ratio and CPU demand go into its signature's profile,
/// which classifies the next job of that signature.
enum RunLearning {
    /// Not for a run that was cancelled or stopped at shutdown (killed at once, it says nothing about the
    /// work), nor one that never started, nor an in-daemon handler (its CPU time is not measured).
    static func learn(
        from outcome: RunOutcome, of plan: JobPlan, stop: StopReason?, into profiles: ProfileBook, at now: Timestamp
    ) async {
        guard let signature = plan.signature, outcome.wallSeconds > 0 else { return }
        switch stop {
        case .cancelled, .shutdown: return
        case .timedOut, nil: break
        }
        guard plan.attempt.isExec || plan.class == .cpu else { return }
        guard let ratio = outcome.cpuRatio else { return }
        await profiles.record(signature, owner: plan.ownerUID, ratio: ratio, demand: outcome.demandRatio, at: now)
    }
}
