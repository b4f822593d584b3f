import JobdProtocol

/// How many jobs of each class may run at once.
public struct Limits: Hashable, Sendable {
    /// CPU-class jobs: the worker count, by default the cores the daemon may run on.
    public var cpuSlots: Int
    /// I/O-class jobs: tasks in the daemon; thousands are fine.
    public var ioSlots: Int

    public init(cpuSlots: Int, ioSlots: Int) {
        precondition(cpuSlots >= 1 && ioSlots >= 1, "limits must allow at least one job")
        self.cpuSlots = cpuSlots
        self.ioSlots = ioSlots
    }

    /// The limit of one class.
    public subscript(jobClass: JobClass) -> Int {
        switch jobClass {
        case .cpu: cpuSlots
        case .io: ioSlots
        }
    }
}
