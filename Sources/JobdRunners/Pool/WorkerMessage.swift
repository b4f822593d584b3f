import Foundation
import JobdProtocol

/// One frame of the worker protocol (docs/WORKERS.md). Each case carries exactly what it needs; the
/// JSON is Swift's own encoding of the enum (`{"run":{"attempt":{…}}}`), so the wire shape cannot drift
/// from this declaration.
enum WorkerMessage: Codable, Sendable {
    // daemon -> worker
    /// Run one attempt.
    case run(attempt: Attempt)
    /// Stop the running job (`reason`: see ``StopReason/wireName``).
    case cancel(job: JobID, reason: String)
    // worker -> daemon
    /// The worker is up and takes jobs.
    case ready(pid: Int32)
    /// An exec job's process runs as this process group.
    case started(job: JobID, processGroup: Int32)
    /// Bytes a handler wrote (exec output goes straight to its log file in the worker).
    case output(job: JobID, data: Data)
    /// The attempt is over; `rssBytes` is the worker's own resident set now.
    case result(job: JobID, outcome: RunOutcome, rssBytes: Int64?)
    /// Sent every second while the worker lives.
    case heartbeat(rssBytes: Int64?)

    /// The frame's name, for log lines.
    var name: String {
        switch self {
        case .run: "run"
        case .cancel: "cancel"
        case .ready: "ready"
        case .started: "started"
        case .output: "output"
        case .result: "result"
        case .heartbeat: "heartbeat"
        }
    }
}

/// Why the daemon stops a job in a worker, as the `cancel` frame spells it.
extension StopReason {
    var wireName: String {
        switch self {
        case .cancelled: "cancelled"
        case .timedOut(let limit): "timeout:\(limit.components.seconds * 1000 + limit.components.attoseconds / 1_000_000_000_000_000)"
        case .shutdown: "shutdown"
        }
    }

    init?(wireName: String) {
        switch wireName {
        case "cancelled": self = .cancelled
        case "shutdown": self = .shutdown
        default:
            guard wireName.hasPrefix("timeout:"), let ms = Int64(wireName.dropFirst("timeout:".count)) else { return nil }
            self = .timedOut(.milliseconds(ms))
        }
    }
}
