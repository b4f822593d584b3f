import JobdProtocol

/// A named queue, as a small number: a million waiting jobs carry two bytes each instead of a string.
public struct QueueID: Hashable, Comparable, Sendable {
    public let rawValue: UInt16
    public init(rawValue: UInt16) { self.rawValue = rawValue }

    /// `default`, the queue of a job submitted without one.
    public static let `default` = QueueID(rawValue: 0)

    public static func < (lhs: QueueID, rhs: QueueID) -> Bool { lhs.rawValue < rhs.rawValue }
}

/// The queue names the daemon has seen, each numbered once for its lifetime.
///
/// Bounded: a name is kept until the daemon stops, so a caller inventing names must not grow this without
/// end; past ``capacity`` distinct names a submit to a new queue is refused.
public struct QueueNames: Sendable {
    public static let capacity = 1024

    private var names: [String] = ["default"]
    private var ids: [String: QueueID] = ["default": .default]

    public init() {}

    /// The number of `name`, numbering it if it is new; nil when ``capacity`` names are taken.
    public mutating func id(for name: String) -> QueueID? {
        if let id = ids[name] { return id }
        guard names.count < Self.capacity else { return nil }
        let id = QueueID(rawValue: UInt16(truncatingIfNeeded: names.count))
        names.append(name)
        ids[name] = id
        return id
    }

    /// Whether `names` could all be numbered now; nil if so, else the first that could not. Numbers
    /// nothing: a submit checks before it stores, and its names are numbered only once it has.
    public func firstWithoutRoom(in names: Set<String>) -> String? {
        let new = names.filter { ids[$0] == nil }.sorted()
        return self.names.count + new.count > Self.capacity ? new[max(0, Self.capacity - self.names.count)] : nil
    }

    /// The number of a name already seen.
    public func existingID(for name: String) -> QueueID? { ids[name] }

    public func name(of id: QueueID) -> String {
        Int(id.rawValue) < names.count ? names[Int(id.rawValue)] : "default"
    }
}

/// What a pause stops from starting: everything, one class, or one queue. Running jobs go on.
public enum PauseTarget: Hashable, Sendable {
    case all
    case jobClass(JobClass)
    case queue(QueueID)
}
