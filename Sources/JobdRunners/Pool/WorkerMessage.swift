import Foundation
import JobdProtocol

/// One frame of the worker protocol (docs/WORKERS.md). Each case carries exactly what it needs; the
/// JSON is Swift's own encoding of the enum (`{"run":{"attempt":{…}}}`), so the wire shape cannot drift
/// from this declaration.
enum WorkerMessage: Codable, Sendable {
    // daemon -> worker
    /// Run one attempt. `sameEnvironment` true: the attempt's environment was left out because it is the
    /// one of the previous `run` frame to this worker (the worker puts it back).
    ///
    /// Why leave it out rather than switch to a binary encoding (measured, release build, 2 cores under
    /// load): a `run` frame with a 30-variable environment (what `jobctl` sends) is 1,608 bytes and costs
    /// 58 µs to encode and 86 µs to decode; without it, 199 bytes, 13 + 17 µs; a `result` frame 9 + 14 µs;
    /// comparing two such environments, 2 µs. The environment is most of the cost, and it rarely changes
    /// between one user's jobs; what a binary encoding would save on the rest (some 50 µs a job) is about
    /// 5% of the ~1 ms of CPU a /bin/true job costs the daemon and its worker, and JSON stays readable.
    case run(attempt: Attempt, sameEnvironment: Bool?)
    /// Stop the running job (`reason`: see ``StopReason/wireName``).
    case cancel(job: JobID, reason: String)
    /// Give back a job queued behind the one running, if it has not started (another worker is idle).
    case withdraw(job: JobID)
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
    /// The job asked for by `withdraw` had not started and is dropped; none comes if it had started.
    case withdrawn(job: JobID)

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
        case .withdraw: "withdraw"
        case .withdrawn: "withdrawn"
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
