import JobdProtocol

/// A limit or a pause an operator set (`jobctl queue limit`, `pause`, `resume`), as stored.
public struct SchedulingControl: Hashable, Sendable {
    public enum Target: Hashable, Sendable {
        case all
        case jobClass(JobClass)
        case queue(String)

        /// The text the `scheduling_controls.target` column holds.
        public var stored: String {
            switch self {
            case .all: "all"
            case .jobClass(let jobClass): "class:\(jobClass.rawValue)"
            case .queue(let name): "queue:\(name)"
            }
        }

        public init?(stored: String) {
            if stored == "all" {
                self = .all
            } else if stored.hasPrefix("class:"), let jobClass = JobClass(rawValue: String(stored.dropFirst(6))) {
                self = .jobClass(jobClass)
            } else if stored.hasPrefix("queue:"), stored.count > 6 {
                self = .queue(String(stored.dropFirst(6)))
            } else {
                return nil
            }
        }
    }

    public var target: Target
    /// For a queue: at most this many of its jobs run at once; nil: no limit of its own.
    public var limit: Int?
    public var paused: Bool

    public init(target: Target, limit: Int? = nil, paused: Bool = false) {
        self.target = target
        self.limit = limit
        self.paused = paused
    }
}
