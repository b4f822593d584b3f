import HeapModule
import JobdProtocol

/// Decides which ready job runs next and when, per class, within the limits.
///
/// A state machine with a single owner: each event (`enqueue`, `jobFinished`, `remove`) returns the jobs
/// to start now. It never blocks, sleeps or touches a socket, file or database, so tests feed it plain
/// values. Invariant: `running[c] <= limits[c]`, and a class with a free slot has no ready job.
public struct Scheduler: Sendable {
    public private(set) var limits: Limits
    private var ready: [JobClass: Heap<ReadyEntry>] = [.cpu: [], .io: []]
    /// Jobs waiting in a heap; a job removed by cancel leaves the set at once and its heap entry is
    /// skipped when it reaches the top (lazy deletion keeps `remove` O(1)).
    private var waiting: Set<JobID> = []
    private var running: [JobClass: Set<JobID>] = [.cpu: [], .io: []]

    public init(limits: Limits) {
        self.limits = limits
    }

    // MARK: - Events

    /// A job became ready (new, requeued after a crash, or rebuilt at start-up).
    /// - Returns: the jobs to start now; at most this one unless limits were raised.
    public mutating func enqueue(_ job: ReadyJob) -> [SchedulerAction] {
        precondition(!waiting.contains(job.id) && !isRunning(job.id), "job \(job.id) enqueued twice")
        waiting.insert(job.id)
        ready[job.class, default: []].insert(ReadyEntry(job: job))
        return fill(job.class)
    }

    /// Many jobs became ready at once (start-up): all are queued before any starts, so the free slots
    /// go to the highest priorities among them, not to whichever came first.
    /// - Returns: the jobs to start now.
    public mutating func enqueue(contentsOf jobs: [ReadyJob]) -> [SchedulerAction] {
        for job in jobs {
            precondition(!waiting.contains(job.id) && !isRunning(job.id), "job \(job.id) enqueued twice")
            waiting.insert(job.id)
            ready[job.class, default: []].insert(ReadyEntry(job: job))
        }
        return JobClass.allCases.flatMap { fill($0) }
    }

    /// A running job ended (whatever its outcome); its slot goes to the next ready job of its class.
    public mutating func jobFinished(_ id: JobID) -> [SchedulerAction] {
        for jobClass in JobClass.allCases where running[jobClass]!.remove(id) != nil {
            return fill(jobClass)
        }
        preconditionFailure("jobFinished(\(id)) for a job that is not running")
    }

    /// Takes a waiting job out of the queue (cancel).
    /// - Returns: false if the job was not waiting (running, finished or unknown).
    public mutating func remove(_ id: JobID) -> Bool {
        waiting.remove(id) != nil
    }

    /// New limits (configuration reload, worker pool resized). Raising one may start jobs at once;
    /// lowering one lets running jobs finish.
    public mutating func setLimits(_ limits: Limits) -> [SchedulerAction] {
        self.limits = limits
        return JobClass.allCases.flatMap { fill($0) }
    }

    // MARK: - Queries

    /// Jobs of a class that wait for a slot.
    public func waitingCount(_ jobClass: JobClass) -> Int {
        ready[jobClass]!.unordered.lazy.filter { waiting.contains($0.job.id) }.count
    }

    /// Jobs of a class holding a slot.
    public func runningCount(_ jobClass: JobClass) -> Int { running[jobClass]!.count }

    /// Whether a job holds a slot.
    public func isRunning(_ id: JobID) -> Bool { running.values.contains { $0.contains(id) } }

    /// Whether a job waits for a slot.
    public func isWaiting(_ id: JobID) -> Bool { waiting.contains(id) }

    // MARK: - Private

    private mutating func fill(_ jobClass: JobClass) -> [SchedulerAction] {
        var actions: [SchedulerAction] = []
        while running[jobClass]!.count < limits[jobClass], let next = ready[jobClass]!.popMax() {
            guard waiting.remove(next.job.id) != nil else { continue }  // cancelled while waiting
            running[jobClass]!.insert(next.job.id)
            actions.append(.start(next.job.id, jobClass))
        }
        return actions
    }
}
