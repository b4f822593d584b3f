import CJobdSystem
import DequeModule
import Foundation

/// Threads for the calls that may block in the kernel on behalf of a job's owner: a spawn (vfork holds
/// its thread until the child's `execve`) and an operation as the owner (`jobd_open_read_as`,
/// `jobd_probe_executable_as`). A path of the owner's may lie on a file system that never answers (a FUSE
/// mount of theirs, reached through /proc/PID/root), and the owner may stop their own child before it
/// execs: such a call then holds its thread until the watchdog kills the child (~2 s).
///
/// **No owner's call holds a thread another owner's call needs** (found in review, issue 18: ten such jobs
/// made another user's `/bin/true` take 19 s when every spawn ran on the reactor thread). Each owner has at
/// most ``perOwner`` calls in progress; the pool starts another thread whenever none is idle, up to
/// ``maximumThreads``, so the calls of a user whose mounts hang wait behind each other, not in front of
/// anyone else's.
///
/// The threads never end: `PR_SET_PDEATHSIG` fires when the *thread* that forked a child exits
/// (../shared/PLATFORM.md), and every job and worker process is forked from one of these.
public final class OwnerThreads: @unchecked Sendable {
    /// The pool every spawn of this process goes through.
    public static let shared = OwnerThreads()

    /// Calls of one owner in progress at once: enough for a burst of short jobs to spawn in parallel.
    public static let perOwner = 4
    /// Threads kept at most (each blocked only by a call that is slow to return; ~64 KiB touched apiece).
    public static let maximumThreads = 64

    private struct Work {
        /// Whose call it is; nil: the daemon's own (a worker process), never held back.
        var owner: UInt32?
        var body: @Sendable () -> Void
    }

    // Guarded by `condition`'s lock.
    private let condition = NSCondition()
    private var queue: Deque<Work> = []
    private var inProgress: [UInt32: Int] = [:]
    /// Threads waiting for work, and how many of them have been woken for a call and not yet taken it:
    /// a thread is started for a call only when no waiting thread is left unclaimed (counting woken
    /// threads as idle would leave a call queued behind a slow one, found while testing issue 18).
    private var waiting = 0
    private var wakeups = 0
    private var threads = 0

    private init() {}

    /// Runs `body` on a thread of the pool, as one of `owner`'s calls, and returns its result. The calling
    /// task is suspended meanwhile; no thread of the cooperative pool waits.
    public func run<T: Sendable>(as owner: UInt32?, _ body: @escaping @Sendable () -> T) async -> T {
        await withCheckedContinuation { continuation in
            submit(Work(owner: owner) { continuation.resume(returning: body()) })
        }
    }

    private func submit(_ work: Work) {
        condition.lock()
        queue.append(work)
        var startsThread = false
        if waiting - wakeups > 0 {
            wakeups += 1
            condition.signal()
        } else if threads < Self.maximumThreads {
            threads += 1
            startsThread = true
        }
        let number = threads
        condition.unlock()
        if startsThread {
            let thread = Thread { [self] in serve(number: number) }
            thread.stackSize = 1 << 20
            thread.start()
        }
    }

    /// Whether a queued call may run now. Lock held.
    private var hasRunnable: Bool {
        queue.contains { work in work.owner.map { (inProgress[$0] ?? 0) < Self.perOwner } ?? true }
    }

    /// The first queued call whose owner has room, taken out of the queue and counted. Lock held.
    private func takeRunnable() -> Work? {
        guard let index = queue.firstIndex(where: { work in
            work.owner.map { (inProgress[$0] ?? 0) < Self.perOwner } ?? true
        }) else { return nil }
        let work = queue.remove(at: index)
        if let owner = work.owner { inProgress[owner, default: 0] += 1 }
        return work
    }

    private func serve(number: Int) {
        jobd_set_thread_name("jobd-owner-\(number)")
        condition.lock()
        while true {
            guard let work = takeRunnable() else {
                waiting += 1
                while wakeups == 0 { condition.wait() }
                wakeups -= 1
                waiting -= 1
                continue
            }
            condition.unlock()
            work.body()
            condition.lock()
            if let owner = work.owner {
                let left = (inProgress[owner] ?? 1) - 1
                inProgress[owner] = left > 0 ? left : nil
                // A call of this owner that waited for room may run now, on a waiting thread.
                if hasRunnable && waiting - wakeups > 0 {
                    wakeups += 1
                    condition.signal()
                }
            }
        }
    }
}
