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

    /// The most slots (or prefetch) of a class: far past what a machine runs, and small enough that sums
    /// of them never overflow.
    public static let maximumSlots = 1_000_000

    /// Clamped, not trapped: at least one job of each class, no negative prefetch, none past
    /// ``maximumSlots`` (a configuration reloaded at run time must not be able to stop the daemon).
    public init(cpuSlots: Int, ioSlots: Int, cpuPrefetch: Int = 0) {
        self.cpuSlots = min(max(1, cpuSlots), Self.maximumSlots)
        self.ioSlots = min(max(1, ioSlots), Self.maximumSlots)
        self.cpuPrefetch = min(max(0, cpuPrefetch), Self.maximumSlots)
    }

    /// The jobs of one class the scheduler starts at most: for `cpu`, the slots plus the prefetch.
    public subscript(jobClass: JobClass) -> Int {
        switch jobClass {
        case .cpu: cpuSlots + cpuPrefetch
        case .io: ioSlots
        }
    }
}
