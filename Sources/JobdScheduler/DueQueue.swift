import HeapModule
import JobdProtocol

/// Jobs that may not start before a time: delayed jobs and retries waiting out their backoff. The
/// dispatcher keeps one timer for ``nextDue`` and, when it fires, moves ``popDue(at:)``'s jobs to the
/// ready queues. Pure: the time is passed in, so tests need no clock.
public struct DueQueue: Sendable {
    private struct Entry: Comparable {
        var due: Double
        var id: JobID
        // Earliest first; ties by id, so jobs delayed alike start in submit order.
        static func < (lhs: Entry, rhs: Entry) -> Bool {
            lhs.due != rhs.due ? lhs.due < rhs.due : lhs.id < rhs.id
        }
    }

    private var heap: Heap<Entry> = []
    /// Jobs waiting here; a removed job leaves the set at once and its heap entry is skipped later.
    private var waiting: [JobID: Double] = [:]

    public init() {}

    public var count: Int { waiting.count }

    /// Entries in the heap, stale ones included (for tests: compaction keeps it near ``count``).
    public var entryCount: Int { heap.count }

    /// Adds a job due at `due` (seconds since the epoch); a job already here moves to the new time.
    public mutating func add(_ id: JobID, due: Double) {
        waiting[id] = due
        heap.insert(Entry(due: due, id: id))
        compactIfMostlyStale()
    }

    /// Takes a job out (cancel). - Returns: false if it was not waiting here.
    @discardableResult
    public mutating func remove(_ id: JobID) -> Bool {
        take(id) != nil
    }

    /// Takes a job out and says when it was due (so a cancel that fails can put it back as it was).
    public mutating func take(_ id: JobID) -> Double? {
        let due = waiting.removeValue(forKey: id)
        compactIfMostlyStale()
        return due
    }

    public func contains(_ id: JobID) -> Bool { waiting[id] != nil }

    /// The earliest time a job here is due, if any.
    public mutating func nextDue() -> Double? {
        dropStale()
        return heap.min?.due
    }

    /// Removes and returns every job due at or before `now`, earliest first.
    public mutating func popDue(at now: Double) -> [JobID] {
        var due: [JobID] = []
        while true {
            dropStale()
            guard let first = heap.min, first.due <= now else { return due }
            heap.removeMin()
            waiting[first.id] = nil
            due.append(first.id)
        }
    }

    /// Rebuilds the heap from the jobs still here once stale entries outnumber them: a million delayed
    /// jobs cancelled would otherwise stay in memory until their due time (up to a year). Amortised O(1):
    /// a rebuild of n entries follows at least n/2 removals.
    private mutating func compactIfMostlyStale() {
        guard heap.count > 2 * waiting.count + 1024 else { return }
        heap = Heap(waiting.map { Entry(due: $0.value, id: $0.key) })
    }

    /// Drops heap entries of jobs removed or moved since they were added.
    private mutating func dropStale() {
        while let first = heap.min, waiting[first.id] != first.due {
            heap.removeMin()
        }
    }
}
