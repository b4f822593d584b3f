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

    /// Clamped, not trapped: at least one job of each class, and no negative prefetch (a configuration
    /// reloaded at run time must not be able to stop the daemon).
    public init(cpuSlots: Int, ioSlots: Int, cpuPrefetch: Int = 0) {
        self.cpuSlots = max(1, cpuSlots)
        self.ioSlots = max(1, ioSlots)
        self.cpuPrefetch = max(0, cpuPrefetch)
    }

    /// The jobs of one class the scheduler starts at most: for `cpu`, the slots plus the prefetch.
    public subscript(jobClass: JobClass) -> Int {
        switch jobClass {
        case .cpu: cpuSlots + cpuPrefetch
        case .io: ioSlots
        }
    }
}
