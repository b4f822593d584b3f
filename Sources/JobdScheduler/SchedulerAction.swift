import JobdProtocol

/// What the scheduler asks its owner to do. The owner (the Dispatcher) carries it out; the scheduler does
/// no I/O.
public enum SchedulerAction: Hashable, Sendable {
    /// Start this job now on the runner of its class; its slot is already taken.
    case start(JobID, JobClass)
}
