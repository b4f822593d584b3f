/// `io.jobd.SetQueueLimit`: at most `limit` jobs of a queue run at once, whatever their class (null: no
/// limit of its own). Root or the daemon's user only: queues are shared by every user of the daemon.
public enum SetQueueLimit {
    public static let method = "io.jobd.SetQueueLimit"

    public struct Parameters: Hashable, Sendable, Codable {
        public var queue: String
        /// 0 or more; absent or null removes the limit.
        public var limit: Int?

        public init(queue: String, limit: Int?) {
            self.queue = queue
            self.limit = limit
        }
    }

    public typealias Reply = Empty
}

/// What `io.jobd.Pause` and `io.jobd.Resume` act on: exactly one of a queue, a class, or everything.
public struct PauseParameters: Hashable, Sendable, Codable {
    public var queue: String?
    public var `class`: JobClass?
    public var all: Bool?

    public init(queue: String? = nil, class: JobClass? = nil, all: Bool? = nil) {
        self.queue = queue
        self.class = `class`
        self.all = all
    }
}

/// `io.jobd.Pause`: nothing new of a queue, a class or of anything starts; running jobs go on. Kept
/// across restarts. Root or the daemon's user only.
public enum Pause {
    public static let method = "io.jobd.Pause"
    public typealias Parameters = PauseParameters
    public typealias Reply = Empty
}

/// `io.jobd.Resume`: undoes a Pause of the same target.
public enum Resume {
    public static let method = "io.jobd.Resume"
    public typealias Parameters = PauseParameters
    public typealias Reply = Empty
}

/// One queue as `status` shows it: a queue with a limit, a pause, or a job running.
public struct QueueInfo: Hashable, Sendable, Codable {
    public var name: String
    public var limit: Int?
    public var paused: Bool
    public var running: Int

    public init(name: String, limit: Int?, paused: Bool, running: Int) {
        self.name = name
        self.limit = limit
        self.paused = paused
        self.running = running
    }
}
