import JobdProtocol

/// The plans (argv, environment, payload) of waiting jobs the dispatcher keeps in memory, so a burst of
/// submits starts without a read per job; the others are read from the store, one indexed row, as they
/// start. **Bounded in count and in bytes**: a job delayed a year, or one that waits for others, keeps no
/// plan at all (found in review, issue 18: 1,000 jobs delayed a year with a 1 MB argument took the daemon
/// from 43 MB to 1.04 GB).
struct KeptPlans {
    /// Plans kept at most.
    static let maximumCount = 10_000
    /// Bytes of argv, environment and payload kept at most.
    static let maximumBytes = 32 << 20

    private var plans: [JobID: (plan: JobPlan, bytes: Int)] = [:]
    /// Retries kept without their plan (no room): the attempt count they start with, since the stored
    /// one may not have committed by then. A few bytes each, where a plan may be megabytes (issue 19:
    /// retries used to keep their whole plan past the bound).
    private var retryAttempts: [JobID: Int] = [:]
    private(set) var bytes = 0

    var count: Int { plans.count }

    /// Keeps `plan` if there is room; a retry without room keeps its attempt count alone.
    mutating func keep(_ plan: JobPlan, isRetry: Bool = false) {
        let size = plan.weight
        if let old = plans[plan.id] { bytes -= old.bytes }
        guard plans.count < Self.maximumCount && bytes + size <= Self.maximumBytes else {
            plans[plan.id] = nil
            if isRetry { retryAttempts[plan.id] = plan.attempts }
            return
        }
        retryAttempts[plan.id] = nil
        plans[plan.id] = (plan, size)
        bytes += size
    }

    /// What is kept of a job that starts now, taken out: its plan, or else (nil: read it from the store)
    /// the attempt count a retry starts with at least.
    mutating func take(_ id: JobID) -> (plan: JobPlan?, attemptsAtLeast: Int?) {
        let attempts = retryAttempts.removeValue(forKey: id)
        guard let kept = plans.removeValue(forKey: id) else { return (nil, attempts) }
        bytes -= kept.bytes
        return (kept.plan, nil)
    }

    /// A job that will not start (cancelled) lets its plan go.
    mutating func drop(_ id: JobID) {
        _ = take(id)
    }
}

extension JobPlan {
    /// About what the plan holds in memory: its strings and payload, and a little for the rest.
    var weight: Int {
        var total = 256
        switch attempt.work {
        case .exec(let argv): total += argv.reduce(0) { $0 + $1.utf8.count + 16 }
        case .handler(let name, let payload): total += name.utf8.count + ((try? WireJSON.encode(payload).count) ?? 0)
        }
        total += attempt.environment?.reduce(0) { $0 + $1.key.utf8.count + $1.value.utf8.count + 32 } ?? 0
        total += attempt.cwd?.utf8.count ?? 0
        return total
    }
}
