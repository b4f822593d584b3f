/// Which runner a job goes to.
public enum JobClass: String, CaseIterable, Hashable, Sendable, Codable {
    /// CPU-bound: run in a worker process, at most one per core.
    case cpu
    /// I/O-bound: run as a task in the daemon, by the thousand.
    case io
}

/// Which rule decided a job's class (DESIGN §3), in the order they are tried.
public enum ClassSource: String, CaseIterable, Hashable, Sendable, Codable {
    /// The submitter asked for it (`--cpu` / `--io`).
    case hint
    /// The handler declares it.
    case kind
    /// Learned from earlier runs of the same signature.
    case learned
    /// Nothing else decided; the configured default.
    case `default`
}
