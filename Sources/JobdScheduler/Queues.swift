import JobdProtocol

/// A named queue, as a small number: a million waiting jobs carry two bytes each instead of a string.
public struct QueueID: Hashable, Comparable, Sendable {
    public let rawValue: UInt16
    public init(rawValue: UInt16) { self.rawValue = rawValue }

    /// `default`, the queue of a job submitted without one.
    public static let `default` = QueueID(rawValue: 0)

    public static func < (lhs: QueueID, rhs: QueueID) -> Bool { lhs.rawValue < rhs.rawValue }
}

/// The queue names in use, each numbered while something holds it: a waiting or running job of the queue,
/// or a limit or pause set on it.
///
/// Bounded: at most ``capacity`` names are numbered at once, and a name nobody holds any more gives its
/// number back, so names invented by one user (a job each in a thousand queues) stop counting once those
/// jobs have finished, and cannot keep everyone else from new queues for the daemon's lifetime.
public struct QueueNames: Sendable {
    public static let capacity = 1024
    /// The distinct queues (besides `default`) one user's waiting and running jobs may use at once: one user
    /// alone cannot hold every name (with jobs delayed a year, say); it takes sixteen.
    public static let perUser = 64

    /// By number: the name, or nil for a number given back (and waiting in `free`).
    private var names: [String?] = ["default"]
    /// By number: how many holds it has.
    private var holds: [Int] = [0]
    private var ids: [String: QueueID] = ["default": .default]
    private var free: [QueueID] = []

    public init() {}

    /// How many names are numbered now (`default` always is).
    public var count: Int { ids.count }

    /// The number of `name`, held once more; a new name is numbered (reusing a number given back).
    /// - Returns: nil when ``capacity`` names are numbered and `name` is not one of them.
    public mutating func hold(_ name: String) -> QueueID? {
        let id: QueueID
        if let known = ids[name] {
            id = known
        } else if let reused = free.popLast() {
            id = reused
            names[Int(id.rawValue)] = name
            ids[name] = id
        } else {
            guard names.count < Self.capacity else { return nil }
            id = QueueID(rawValue: UInt16(truncatingIfNeeded: names.count))
            names.append(name)
            holds.append(0)
            ids[name] = id
        }
        holds[Int(id.rawValue)] += 1
        return id
    }

    /// One hold of `id` ends.
    /// - Returns: true if that was its last and its number was given back (`default` never is).
    public mutating func release(_ id: QueueID) -> Bool {
        let slot = Int(id.rawValue)
        guard holds.indices.contains(slot), holds[slot] > 0 else { return false }
        holds[slot] -= 1
        guard holds[slot] == 0, id != .default, let name = names[slot] else { return false }
        names[slot] = nil
        ids[name] = nil
        free.append(id)
        return true
    }

    /// Whether `names` could all be numbered now; nil if so, else the first that could not. Numbers
    /// nothing: a submit checks before it stores, and its names are numbered only once it has.
    public func firstWithoutRoom(in names: Set<String>) -> String? {
        let new = names.filter { ids[$0] == nil }.sorted()
        return count + new.count > Self.capacity ? new[max(0, Self.capacity - count)] : nil
    }

    /// The number of a name in use now.
    public func existingID(for name: String) -> QueueID? { ids[name] }

    public func name(of id: QueueID) -> String {
        names.indices.contains(Int(id.rawValue)) ? names[Int(id.rawValue)] ?? "default" : "default"
    }
}

/// What a pause stops from starting: everything, one class, or one queue. Running jobs go on.
public enum PauseTarget: Hashable, Sendable {
    case all
    case jobClass(JobClass)
    case queue(QueueID)
}
