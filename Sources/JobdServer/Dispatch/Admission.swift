import JobdProtocol
import JobdStore

/// What a submit reserves in the dispatcher from its admission until its jobs are stored and handed over
/// (``Dispatcher/accept(_:admitted:)``) or given up (``Dispatcher/unreserve(_:)``): its queue names (held,
/// so no other call can take the last of them meanwhile) and its dependencies, both counted against the
/// caller's bounds. Checked and reserved in one step on the dispatcher, so submits at the same moment
/// cannot each pass a bound on the same room.
struct Admission: Sendable {
    let owner: UInt32
    /// Root or the daemon's own user: no per-user bound on queues (they can fill the names anyway, by
    /// limits and pauses).
    let isOperator: Bool
    let queues: Set<String>
    let dependencies: Int

    /// What admitting `newJobs` (all of one caller) reserves.
    init(_ newJobs: [NewJob], isOperator: Bool) {
        owner = newJobs.first?.ownerUID ?? 0
        self.isOperator = isOperator
        queues = Set(newJobs.map { $0.spec.queue ?? "default" })
        dependencies = newJobs.reduce(0) { $0 + ($1.spec.after?.count ?? 0) + ($1.spec.afterIndex?.count ?? 0) }
    }

    /// Why an admission was refused.
    enum Refusal: Error {
        /// ``JobdScheduler/QueueNames/capacity`` names are held; this one is new.
        case queueNamesFull(String)
        /// The caller's jobs already use this many queues (``JobdScheduler/QueueNames/perUser``).
        case tooManyQueues(held: Int)
        /// The caller's jobs already wait on (or reserved) this many dependencies.
        case tooManyDependencies(held: Int)
    }
}
