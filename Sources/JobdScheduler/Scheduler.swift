import HeapModule
import JobdProtocol

/// Decides which ready job runs next and when, per class, within the limits.
///
/// A state machine with a single owner: each event (`enqueue`, `jobFinished`, `remove`, a limit or a
/// pause) returns the jobs to start now. It never blocks, sleeps or touches a socket, file or database,
/// so tests feed it plain values.
///
/// Order: within a class, the highest priority first, then the earliest due (``DueTime``, to the second),
/// then the lowest id, across the queues that may start a job now (River fetches by `priority,
/// scheduled_at, id` alike). A job's due time is its `run_at` if it has one (a delay, the pause before a
/// retry), else its submit time: a delayed job or a retry waits behind the jobs of its priority that fell
/// due before it, rather than jumping ahead by its lower id. A job released by the jobs it waited for
/// (`after`) keeps that due time, not the moment of its release: the stored fields alone decide, so the
/// order is the same after a restart, and a pipeline submitted long ago does not go behind everything
/// queued since at each of its steps.
///
/// A queue may have a limit of its own (at most that many of its jobs run at once, whatever their
/// class), and a queue, a class or everything may be paused (nothing new starts; running jobs go on).
/// Invariant: `running[c] <= limits[c]`, and a class with a free slot has no ready job that its queue's
/// limit and the pauses would let start.
public struct Scheduler: Sendable {
    public private(set) var limits: Limits
    /// Waiting jobs, by class and queue, in heaps; a job removed by cancel leaves `waiting` at once and
    /// its heap entry is skipped when it reaches the top (lazy deletion keeps `remove` O(1)).
    private var ready: [JobClass: [QueueID: Heap<ReadyEntry>]] = [.cpu: [:], .io: [:]]
    private var waiting: Set<JobID> = []
    /// Jobs removed (cancelled) whose heap entries may still be there; and, for those queued again since
    /// (a retry), the entry that is theirs now: the old one, with its older due time, must not win.
    private var removedWithEntries: Set<JobID> = []
    private var reinserted: [JobID: ReadyJob] = [:]
    /// Entries in all the heaps, stale ones included; compacted when stale ones outnumber the live.
    public private(set) var entryCount = 0
    /// Running jobs and where they count.
    private var running: [JobID: (class: JobClass, queue: QueueID)] = [:]
    private var runningPerClass: [JobClass: Int] = [.cpu: 0, .io: 0]
    private var runningPerQueue: [QueueID: Int] = [:]
    private var queueLimits: [QueueID: Int] = [:]
    private var paused: Set<PauseTarget> = []

    public init(limits: Limits) {
        self.limits = limits
    }

    // MARK: - Events

    /// A job became ready (new, requeued after a crash, or rebuilt at start-up).
    /// - Returns: the jobs to start now; at most this one unless limits were raised.
    public mutating func enqueue(_ job: ReadyJob) -> [SchedulerAction] {
        insert(job)
        return fill(job.class)
    }

    /// Many jobs became ready at once (start-up): all are queued before any starts, so the free slots
    /// go to the highest priorities among them, not to whichever came first.
    /// - Returns: the jobs to start now.
    public mutating func enqueue(contentsOf jobs: [ReadyJob]) -> [SchedulerAction] {
        for job in jobs { insert(job) }
        return fillAll()
    }

    /// A job already waiting or running is not queued twice (the owner's bookkeeping slipped; the job
    /// stays where it is rather than the daemon trapping).
    private mutating func insert(_ job: ReadyJob) {
        guard !waiting.contains(job.id), running[job.id] == nil else { return }
        waiting.insert(job.id)
        if removedWithEntries.contains(job.id) { reinserted[job.id] = job }
        ready[job.class, default: [:]][job.queue, default: []].insert(ReadyEntry(job: job))
        entryCount += 1
    }

    /// A running job ended (whatever its outcome); its slot goes to the next ready job of its class, and
    /// its queue's slot, if the queue has a limit, to the next job of that queue.
    public mutating func jobFinished(_ id: JobID) -> [SchedulerAction] {
        // A job that is not running frees no slot (nothing to do, rather than a trap).
        guard let slot = running.removeValue(forKey: id) else { return [] }
        runningPerClass[slot.class, default: 0] -= 1
        runningPerQueue[slot.queue, default: 0] -= 1
        return queueLimits[slot.queue] == nil ? fill(slot.class) : fillAll()
    }

    /// Takes a waiting job out of the queue (cancel).
    /// - Returns: false if the job was not waiting (running, finished or unknown).
    public mutating func remove(_ id: JobID) -> Bool {
        guard waiting.remove(id) != nil else { return false }
        removedWithEntries.insert(id)
        reinserted[id] = nil
        compactIfMostlyStale()
        return true
    }

    /// Rebuilds the heaps from the waiting jobs once entries of cancelled ones outnumber them: a million
    /// queued jobs cancelled would otherwise stay in memory until each reached the top of its heap.
    /// Amortised O(1): a rebuild of n entries follows at least n/2 removals.
    private mutating func compactIfMostlyStale() {
        guard entryCount > 2 * waiting.count + 1024 else { return }
        var kept = Set<JobID>()
        kept.reserveCapacity(waiting.count)
        for (jobClass, queues) in ready {
            for (queue, heap) in queues {
                // A job retried after a cancel may have two entries; one is kept.
                let live = heap.unordered.filter { isLive($0) && kept.insert($0.job.id).inserted }
                ready[jobClass]?[queue] = live.isEmpty ? nil : Heap(live)
            }
        }
        entryCount = kept.count
        removedWithEntries = []  // no stale entry is left
        reinserted = [:]
    }

    /// Whether a heap entry is a waiting job's own: not one left by a cancel (lazy deletion), nor the old
    /// entry of a job cancelled and queued again.
    private func isLive(_ entry: ReadyEntry) -> Bool {
        waiting.contains(entry.job.id) && (reinserted[entry.job.id].map { $0 == entry.job } ?? true)
    }

    /// New limits (configuration reload, worker pool resized). Raising one may start jobs at once;
    /// lowering one lets running jobs finish.
    public mutating func setLimits(_ limits: Limits) -> [SchedulerAction] {
        self.limits = limits
        return fillAll()
    }

    /// At most `limit` jobs of `queue` run at once (nil: no limit but the classes'). Lowering it lets
    /// running jobs finish.
    public mutating func setLimit(_ limit: Int?, of queue: QueueID) -> [SchedulerAction] {
        queueLimits[queue] = limit.map { max(0, $0) }
        return fillAll()
    }

    /// Pauses (nothing new starts) or resumes `target`. Resuming starts what may start at once.
    public mutating func setPaused(_ target: PauseTarget, _ isPaused: Bool) -> [SchedulerAction] {
        if isPaused {
            paused.insert(target)
            return []
        }
        paused.remove(target)
        return fillAll()
    }

    /// A queue's number was given back (nothing holds it: no waiting or running job, no limit, no pause):
    /// what is left under it is dropped, so a name numbered the same later starts clean. Its heaps hold
    /// only entries of jobs that left by cancel (lazy deletion); a queue still counted as running keeps
    /// its count (a drain froze it), as the number is then not reused before the daemon stops.
    public mutating func forget(_ queue: QueueID) {
        for jobClass in JobClass.allCases { entryCount -= ready[jobClass]?[queue]?.count ?? 0 }
        for jobClass in JobClass.allCases { ready[jobClass]?[queue] = nil }
        queueLimits[queue] = nil
        paused.remove(.queue(queue))
        if runningPerQueue[queue] == 0 { runningPerQueue[queue] = nil }
    }

    // MARK: - Queries

    /// Jobs of a class that wait for a slot.
    public func waitingCount(_ jobClass: JobClass) -> Int {
        (ready[jobClass] ?? [:]).values.reduce(0) { sum, heap in
            sum + heap.unordered.lazy.filter { isLive($0) }.count
        }
    }

    /// Jobs of a class holding a slot.
    public func runningCount(_ jobClass: JobClass) -> Int { runningPerClass[jobClass] ?? 0 }

    /// Jobs of a queue holding a slot.
    public func runningCount(of queue: QueueID) -> Int { runningPerQueue[queue] ?? 0 }

    /// Whether a job holds a slot.
    public func isRunning(_ id: JobID) -> Bool { running[id] != nil }

    /// Whether a job waits for a slot.
    public func isWaiting(_ id: JobID) -> Bool { waiting.contains(id) }

    /// The queue limits set, and the pauses.
    public var queueLimitsSet: [QueueID: Int] { queueLimits }
    public var pauses: Set<PauseTarget> { paused }

    // MARK: - Private

    private mutating func fillAll() -> [SchedulerAction] {
        JobClass.allCases.flatMap { fill($0) }
    }

    private mutating func fill(_ jobClass: JobClass) -> [SchedulerAction] {
        var actions: [SchedulerAction] = []
        guard !paused.contains(.all), !paused.contains(.jobClass(jobClass)) else { return actions }
        while runningCount(jobClass) < limits[jobClass], let next = popNext(jobClass) {
            running[next.id] = (jobClass, next.queue)
            runningPerClass[jobClass, default: 0] += 1
            runningPerQueue[next.queue, default: 0] += 1
            actions.append(.start(next.id, jobClass))
        }
        return actions
    }

    /// The best waiting job of the class among the queues that may start one now, taken out.
    private mutating func popNext(_ jobClass: JobClass) -> ReadyJob? {
        var best: (queue: QueueID, entry: ReadyEntry)?
        for queue in Array((ready[jobClass] ?? [:]).keys) {
            guard !paused.contains(.queue(queue)), runningCount(of: queue) < (queueLimits[queue] ?? .max) else { continue }
            // Cancelled jobs at the top are dropped as they are met.
            while let top = ready[jobClass]?[queue]?.max, !isLive(top) {
                _ = ready[jobClass]?[queue]?.popMax()
                entryCount -= 1
                if !waiting.contains(top.job.id) { removedWithEntries.remove(top.job.id) }
            }
            guard let top = ready[jobClass]?[queue]?.max else {
                ready[jobClass]?[queue] = nil
                continue
            }
            if best.map({ $0.entry < top }) ?? true { best = (queue, top) }
        }
        guard let best else { return nil }
        _ = ready[jobClass]?[best.queue]?.popMax()
        entryCount -= 1
        waiting.remove(best.entry.job.id)
        // Its old entry, if any, is still in a heap: it stays known as removed until that entry goes.
        reinserted[best.entry.job.id] = nil
        return best.entry.job
    }
}
