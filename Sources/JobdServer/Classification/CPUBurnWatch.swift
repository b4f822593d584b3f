import JobdProtocol
import JobdRunners
import JobdStore
import Logging

/// Watches an I/O-class command while it runs in the daemon: reads its process group's CPU demand (CPU +
/// run-queue wait, from the reactor's sampler) every `window`; a stretch at or above the upper threshold
/// switches its signature to `cpu` at once, so the next job of it goes to the pool, and says so in this
/// job's class reason. Demand, not CPU alone: twelve burners on two cores each get 0.17 of a core, but
/// each is running or runnable all the time (issue 10).
struct CPUBurnWatch: Sendable {
    let profileBook: ProfileBook
    let store: any JobStore
    let window: Duration
    /// What the sampler has seen of a process group so far.
    let usage: @Sendable (Int32) -> TreeUsage?
    let logger: Logger

    /// Whether a job is watched: a command running in the daemon whose signature can learn.
    static func applies(to plan: JobPlan) -> Bool {
        plan.class == .io && plan.attempt.isExec && plan.signature != nil
    }

    /// Returns when the stretch is seen or the task is cancelled (the job ended).
    func watch(_ plan: JobPlan, control: RunControl) async {
        guard let signature = plan.signature else { return }
        let upper = await profileBook.thresholds.upper  // a reload may change it (ProfileBook.setThresholds)
        var last: (usage: TreeUsage, at: ContinuousClock.Instant)?
        while true {
            do {
                try await Task.sleep(for: window)
            } catch {
                return  // the job ended
            }
            guard let group = control.processGroup, let usage = usage(group) else { continue }
            let now = ContinuousClock.now
            // The first reading has no stretch before it (the sampler's first pass may lag the start).
            guard let previous = last else {
                last = (usage, now)
                continue
            }
            last = (usage, now)
            let elapsed = (now - previous.at).inSeconds
            guard elapsed > 0 else { continue }
            let cpu = max(0, usage.cpuSeconds - previous.usage.cpuSeconds)
            let wait = max(0, usage.waitSeconds - previous.usage.waitSeconds)
            let ratio = cpu / elapsed
            let demand = (cpu + wait) / elapsed
            guard demand >= upper else { continue }
            let profile = await profileBook.recordWhileRunning(
                signature, owner: plan.ownerUID, ratio: ratio, demand: demand, at: WallClock.now())
            let note =
                "reclassified while running: it used \(Profile.format(ratio)) CPU-s per wall-s, "
                + "\(Profile.format(demand)) counting run-queue wait, over "
                + "\(Profile.format(elapsed))s, so \(signature) is now \(profile.effectiveClass?.rawValue ?? "cpu"); "
                + "this job stays io"
            store.updateClassReason(plan.id, reason: (plan.classReason.map { $0 + "; " } ?? "") + note)
            logger.info("job \(plan.id): \(note)", metadata: ["job": "\(plan.id)"])
            return
        }
    }
}
