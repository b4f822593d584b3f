import JobdProtocol

/// How many jobs of each class may run at once.
public struct Limits: Hashable, Sendable {
    /// CPU-class jobs executing at once: the worker count, by default the cores the daemon may run on.
    public var cpuSlots: Int
    /// CPU-class jobs started beyond `cpuSlots`: handed to a worker that still runs its previous job, which
    /// starts them the moment that one ends (the pool's `queuedPerWorker` per worker; docs/WORKERS.md).
    /// They count as `running` from the hand-over, so `running` may reach `cpuSlots + cpuPrefetch`.
    public var cpuPrefetch: Int
    /// I/O-class jobs: tasks in the daemon; thousands are fine.
    public var ioSlots: Int

    public init(cpuSlots: Int, ioSlots: Int, cpuPrefetch: Int = 0) {
        precondition(cpuSlots >= 1 && ioSlots >= 1, "limits must allow at least one job")
        precondition(cpuPrefetch >= 0, "a negative prefetch makes no sense")
        self.cpuSlots = cpuSlots
        self.ioSlots = ioSlots
        self.cpuPrefetch = cpuPrefetch
    }

    /// The jobs of one class the scheduler starts at most: for `cpu`, the slots plus the prefetch.
    public subscript(jobClass: JobClass) -> Int {
        switch jobClass {
        case .cpu: cpuSlots + cpuPrefetch
        case .io: ioSlots
        }
    }
}
