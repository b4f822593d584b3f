import CJobdSystem
import Glibc
import Synchronization

/// What a job's process tree used, as the sampler saw it (issue 10).
public struct TreeUsage: Sendable, Hashable {
    /// On-CPU seconds of every task seen (schedstat field 1), the dead ones at their last reading.
    public var cpuSeconds: Double
    /// Seconds its tasks waited for a CPU *after being preempted*: the run-queue wait (schedstat field 2)
    /// of each stretch between two readings, times the share of that stretch's context switches that were
    /// involuntary. This is CPU it wanted and did not get. The wait after a wake-up (an I/O completes, a
    /// sleep ends) is left out: on a loaded machine every wake-up waits a few ms for a CPU, and a job that
    /// blocks on a fast disk thousands of times a second would otherwise look CPU-bound (issue 10).
    public var waitSeconds: Double
    /// All the run-queue wait, after wake-ups too.
    public var totalWaitSeconds: Double
    /// The largest sum of the group's resident sets seen in one sample, in bytes; nil before any.
    public var peakRSSBytes: Int64?
    /// How many samples saw the group.
    public var samples: Int

    public init(
        cpuSeconds: Double = 0, waitSeconds: Double = 0, totalWaitSeconds: Double = 0, peakRSSBytes: Int64? = nil,
        samples: Int = 0
    ) {
        self.cpuSeconds = cpuSeconds
        self.waitSeconds = waitSeconds
        self.totalWaitSeconds = totalWaitSeconds
        self.peakRSSBytes = peakRSSBytes
        self.samples = samples
    }
}

/// Samples the process groups of running jobs from /proc: each task's scheduler statistics
/// (`/proc/PID/task/TID/schedstat`: on-CPU and run-queue wait, ns) and each process's resident set
/// (`/proc/PID/stat` field 24).
///
/// **A task seen once keeps its last reading**, so descendants that exit (and are reaped) still count;
/// what it misses is a task born and dead between two samples (its CPU still reaches `wait4`'s rusage,
/// its wait is lost) and a process that left the job's group (`setsid`, `setpgid`). See
/// docs/CLASSIFICATION.md for the figures.
///
/// Not thread-safe: the reactor thread owns it. ``published`` is the one part other threads read.
final class TreeSampler: @unchecked Sendable {
    /// The last reading of one task, and the wait after preemption counted so far (ns).
    private struct TaskReading {
        var run: Int64 = 0
        var wait: Int64 = 0
        var voluntary: Int64 = 0
        var involuntary: Int64 = 0
        var preemptedWait: Double = 0

        /// Takes a new reading: the wait since the last one counts in the share of the switches since then
        /// that were preemptions. No switch at all: it has been runnable throughout, so all of it counts.
        mutating func update(_ stat: jobd_task_stat) {
            let wait = max(0, stat.wait_ns &- self.wait)
            let voluntary = max(0, stat.voluntary &- self.voluntary)
            let involuntary = max(0, stat.involuntary &- self.involuntary)
            let switches = voluntary &+ involuntary
            preemptedWait += switches == 0 ? Double(wait) : Double(wait) * Double(involuntary) / Double(switches)
            (run, self.wait, self.voluntary, self.involuntary) =
                (stat.run_ns, stat.wait_ns, stat.voluntary, stat.involuntary)
        }
    }

    private struct Group {
        /// Each task seen, at its last reading.
        var tasks: [Int32: TaskReading] = [:]
        /// Tasks whose id came back as a new task (a lower reading): what they used is kept here.
        var retired = TaskReading()
        /// utime + stime ticks of each process at its last schedstat read: unchanged and not runnable
        /// means it slept since, so its schedstat is not read again.
        var ticks: [Int32: Int64] = [:]
        var peakRSSPages: Int64?
        var samples = 0

        var usage: TreeUsage {
            var run = retired.run
            var wait = retired.wait
            var preempted = retired.preemptedWait
            for task in tasks.values {
                run &+= task.run
                wait &+= task.wait
                preempted += task.preemptedWait
            }
            return TreeUsage(
                cpuSeconds: Double(max(0, run)) / 1e9, waitSeconds: max(0, preempted) / 1e9,
                totalWaitSeconds: Double(max(0, wait)) / 1e9,
                peakRSSBytes: peakRSSPages.map { $0 &* TreeSampler.pageSize }, samples: samples)
        }
    }

    static let pageSize = Int64(max(1, sysconf(Int32(_SC_PAGESIZE))))
    private var groups: [Int32: Group] = [:]
    private var scratch = [jobd_proc_sample](repeating: jobd_proc_sample(), count: 256)
    private var taskScratch = [jobd_task_stat](repeating: jobd_task_stat(), count: 256)
    /// The latest usage of each watched group, for readers on other threads (the I/O job watcher).
    let published = Mutex<[Int32: TreeUsage]>([:])

    var isEmpty: Bool { groups.isEmpty }

    /// Starts watching a job's group (its leader's pid) and reads the leader at once: a job that ends
    /// before the first periodic sample still gets its resident set from this one.
    func watch(_ pgid: Int32) {
        groups[pgid] = Group()
        var sample = jobd_proc_sample()
        if jobd_scan_process(pgid, &sample) == 0 { record([sample], into: pgid) }
    }

    /// Reads the group's leader alone: called when it has exited and before it is reaped (a zombie keeps
    /// its schedstat until then), so its last stretch of CPU and wait counts.
    func sampleLeader(_ pgid: Int32) {
        guard groups[pgid] != nil else { return }
        var sample = jobd_proc_sample()
        if jobd_scan_process(pgid, &sample) == 0, sample.pgrp == pgid { record([sample], into: pgid) }
    }

    /// Stops watching a group and returns what it used.
    func finish(_ pgid: Int32) -> TreeUsage {
        let usage = groups.removeValue(forKey: pgid)?.usage ?? TreeUsage()
        _ = published.withLock { $0.removeValue(forKey: pgid) }
        return usage
    }

    /// One pass over /proc for every watched group.
    func sampleAll() {
        guard !groups.isEmpty else { return }
        let pgids = groups.keys.sorted()
        var found: Int32 = 0
        while true {
            found = pgids.withUnsafeBufferPointer { ids in
                scratch.withUnsafeMutableBufferPointer {
                    jobd_scan_groups(
                        ids.baseAddress, Int32(clamping: ids.count), $0.baseAddress, Int32(clamping: $0.count))
                }
            }
            guard Int(found) > scratch.count else { break }
            // More processes than room: grow and scan again (rare: a fork-heavy tree or many jobs).
            scratch = [jobd_proc_sample](repeating: jobd_proc_sample(), count: Int(found) * 2)
        }
        guard found >= 0 else { return }
        var byGroup: [Int32: [jobd_proc_sample]] = [:]
        for sample in scratch[0..<Int(found)] { byGroup[sample.pgrp, default: []].append(sample) }
        for pgid in pgids { record(byGroup[pgid] ?? [], into: pgid) }
        let snapshot = groups.mapValues(\.usage)
        published.withLock { $0 = snapshot }
    }

    private func record(_ processes: [jobd_proc_sample], into pgid: Int32) {
        guard var group = groups[pgid] else { return }
        var rss: Int64 = 0
        for process in processes {
            rss &+= max(0, process.rss_pages)
            // 'R': running or runnable, the state that accrues run-queue wait. Any other state with the
            // same CPU ticks as at the last read has slept since: at most a tick of CPU is missed.
            let isRunnable = process.state == CChar(bitPattern: UInt8(ascii: "R"))
            if !isRunnable, let last = group.ticks[process.pid], last == process.ticks { continue }
            group.ticks[process.pid] = process.ticks
            let count = taskScratch.withUnsafeMutableBufferPointer {
                // Past 256 threads, the rest of a process's tasks are not read: a bound on one pass's cost.
                jobd_read_task_stats(process.pid, process.threads, $0.baseAddress, Int32(clamping: $0.count))
            }
            guard count > 0 else { continue }
            for stat in taskScratch[0..<Int(count)] {
                var task = group.tasks[stat.tid] ?? TaskReading()
                if stat.run_ns < task.run {
                    // A new task with a reused id: keep what the old one used.
                    group.retired.run &+= task.run
                    group.retired.wait &+= task.wait
                    group.retired.preemptedWait += task.preemptedWait
                    task = TaskReading()
                }
                task.update(stat)
                group.tasks[stat.tid] = task
            }
        }
        if !processes.isEmpty {
            group.peakRSSPages = max(group.peakRSSPages ?? 0, rss)
            group.samples += 1
        }
        groups[pgid] = group
    }
}
