import JobdProtocol

/// Something that runs attempts: the exec runner (a child process awaited on the reactor thread), the
/// handler runner (a task in this process) and the worker pool (either of those in a worker process).
/// The dispatcher picks one per attempt (`Runners`) and knows nothing else of how it runs.
public protocol Runner: Sendable {
    /// Runs one attempt to its end. Never throws: what went wrong is the outcome's `error`. Stops reach the
    /// attempt through `control`, which the runner marks finished before it returns.
    func run(_ attempt: Attempt, control: RunControl) async -> RunOutcome
}
