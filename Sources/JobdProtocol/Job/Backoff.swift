/// How the pause before a retry grows (`backoff` of a job; docs/PROTOCOL.md, "Retries").
public enum Backoff: String, Hashable, Sendable, Codable, CaseIterable {
    /// `backoff_seconds` × 2^(n−1) before retry n, capped, each pause drawn between its half and its whole
    /// ("equal jitter"), so jobs that failed together do not retry together.
    case exp
    /// `backoff_seconds` before every retry.
    case fixed
}
