import Foundation
import JobdProtocol

/// One frame of the worker protocol (docs/WORKERS.md): a JSON object with a `type` and the fields that
/// type uses. One struct for both directions keeps the wire shape in one place and readable in the docs.
struct WorkerMessage: Codable, Sendable {
    enum MessageType: String, Codable, Sendable {
        // daemon -> worker
        /// Run one job.
        case run
        /// Stop the running job (`reason`: cancelled, timeout or shutdown).
        case cancel
        // worker -> daemon
        /// The worker is up and takes jobs.
        case ready
        /// The job runs; an exec job's process group is `process_group`.
        case started
        /// Bytes a handler wrote (exec output goes straight to its log file in the worker).
        case output
        /// The attempt is over.
        case result
        /// Sent every second while the worker lives.
        case heartbeat
    }

    var type: MessageType
    var job: JobID?

    // run
    var kind: String?
    var payload: JSONValue?
    var argv: [String]?
    var env: [String: String]?
    var cwd: String?
    var uid: UInt32?
    var gid: UInt32?
    var outputPath: String?
    var outputLimit: Int64?
    var timeoutSeconds: Double?

    // cancel
    var reason: String?

    // ready, started
    var pid: Int32?
    var processGroup: Int32?

    // output
    var data: Data?

    // result
    var outcome: RunOutcome?

    // result, heartbeat: the worker's own resident set
    var rssBytes: Int64?

    enum CodingKeys: String, CodingKey {
        case type, job, kind, payload, argv, env, cwd, uid, gid, reason, pid, data, outcome
        case outputPath = "output_path"
        case outputLimit = "output_limit"
        case timeoutSeconds = "timeout_seconds"
        case processGroup = "process_group"
        case rssBytes = "rss_bytes"
    }

    init(type: MessageType, job: JobID? = nil) {
        self.type = type
        self.job = job
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
