import CJobdSystem
import Glibc
import Synchronization

/// What a job's process tree used, as the sampler saw it (issue 10).
public struct TreeUsage: Sendable, Hashable {
    /// On-CPU seconds of every task seen (schedstat field 1), the dead ones at their last reading.
    public var cpuSeconds: Double
    /// Seconds its tasks were runnable but waiting for a CPU (schedstat field 2), likewise.
    public var waitSeconds: Double
    /// The largest sum of the group's resident sets seen in one sample, in bytes; nil before any.
    public var peakRSSBytes: Int64?
    /// How many samples saw the group.
    public var samples: Int

    public init(cpuSeconds: Double = 0, waitSeconds: Double = 0, peakRSSBytes: Int64? = nil, samples: Int = 0) {
        self.cpuSeconds = cpuSeconds
        self.waitSeconds = waitSeconds
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
    private struct Group {
        /// Last reading of each task seen, in ns.
        var tasks: [Int32: (run: Int64, wait: Int64)] = [:]
        /// Readings of tasks whose id came back as a new task (a lower reading): kept here.
        var retiredRun: Int64 = 0
        var retiredWait: Int64 = 0
        /// utime + stime ticks of each process at its last schedstat read: unchanged and not runnable
        /// means it slept since, so its schedstat is not read again.
        var ticks: [Int32: Int64] = [:]
        var peakRSSPages: Int64?
        var samples = 0

        var usage: TreeUsage {
            var run = retiredRun
            var wait = retiredWait
            for reading in tasks.values {
                run &+= reading.run
                wait &+= reading.wait
            }
            return TreeUsage(
                cpuSeconds: Double(max(0, run)) / 1e9, waitSeconds: Double(max(0, wait)) / 1e9,
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
                    jobd_scan_groups(ids.baseAddress, Int32(ids.count), $0.baseAddress, Int32($0.count))
                }
            }
            guard found > Int32(scratch.count) else { break }
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
                jobd_read_task_stats(process.pid, process.threads, $0.baseAddress, Int32($0.count))
            }
            guard count > 0 else { continue }
            for task in taskScratch[0..<Int(count)] {
                if let last = group.tasks[task.tid], task.run_ns < last.run {
                    // A new task with a reused id: keep what the old one used.
                    group.retiredRun &+= last.run
                    group.retiredWait &+= last.wait
                }
                group.tasks[task.tid] = (task.run_ns, task.wait_ns)
            }
        }
        if !processes.isEmpty {
            group.peakRSSPages = max(group.peakRSSPages ?? 0, rss)
            group.samples += 1
        }
        groups[pgid] = group
    }
}
