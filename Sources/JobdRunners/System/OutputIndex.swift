import Glibc
import JobdProtocol

/// The index beside a job's log (`<id>.idx`): which stream each run of the log's bytes came from.
///
/// The log keeps stdout and stderr interleaved in the order the daemon read them (what `logs` prints);
/// the index is a list of fixed-size records, one per run of one stream, in log order:
///
///     bytes 0..<8   the run's first byte in the log, little-endian; bit 63 set for stderr
///     bytes 8..<12  the run's length, little-endian
///
/// Written by hand because it is eleven lines of format: a run is extended in place while the same
/// stream keeps writing, so a job printing only to stdout has one record per attempt.
///
/// Order between the two streams is the order their reads returned, and two pipes keep no order between
/// them: what a job writes to both before the reactor reads (a short job's output, read after it exits;
/// a tight loop of `echo out; echo err >&2`) comes out as each pipe's bytes in turn. Within each stream
/// the order is exact. A job that needs the exact interleaving writes both to one stream (`2>&1`).
public enum OutputIndex {
    public static let recordSize = 12
    /// The longest run one record describes; a longer run continues in the next record.
    static let maximumRun = Int64(UInt32.max)
    private static let stderrBit: UInt64 = 1 << 63

    /// Where a job's index is kept, beside its log.
    public static func path(of job: JobID, in logsDirectory: String) -> String {
        "\(logsDirectory)/\(job).idx"
    }

    /// The index of the log at `logPath` (`<id>.log` → `<id>.idx`).
    public static func path(besideLog logPath: String) -> String {
        (logPath.hasSuffix(".log") ? String(logPath.dropLast(4)) : logPath) + ".idx"
    }

    struct Record: Equatable {
        var stream: StandardStream
        var start: Int64
        var length: Int64

        var encoded: [UInt8] {
            let head = UInt64(clamping: start) | (stream == .stderr ? OutputIndex.stderrBit : 0)
            let count = UInt32(clamping: length)
            return (0..<8).map { UInt8(truncatingIfNeeded: head >> ($0 * 8)) }
                + (0..<4).map { UInt8(truncatingIfNeeded: count >> ($0 * 8)) }
        }

        init(stream: StandardStream, start: Int64, length: Int64) {
            (self.stream, self.start, self.length) = (stream, start, length)
        }

        /// Decodes the 12 bytes at `index` of `bytes` (which the caller checked are there).
        init(_ bytes: [UInt8], at index: Int) {
            var head: UInt64 = 0
            for byte in (0..<8).reversed() { head = head << 8 | UInt64(bytes[index + byte]) }
            var count: UInt32 = 0
            for byte in (8..<12).reversed() { count = count << 8 | UInt32(bytes[index + byte]) }
            stream = head & OutputIndex.stderrBit == 0 ? .stdout : .stderr
            start = Int64(bitPattern: head & ~OutputIndex.stderrBit)
            length = Int64(count)
        }
    }

    /// What ``read(_:log:index:from:indexFrom:limit:)`` found.
    public struct Chunk: Sendable {
        /// The stream's bytes, in order.
        public var bytes: [UInt8]
        /// The log offset the next read continues from.
        public var next: Int64
        /// The index offset the next read may start scanning at (records before it end before `next`).
        public var nextIndex: Int64
        /// Nothing more is in the log, of either stream, past `next` now: a follower waits for a write.
        public var caughtUp: Bool
    }

    /// The most records one read decodes: a read's cost is bounded by its reply, not by the index (a job
    /// alternating one-byte writes makes a 16 MiB index of 1.4 million records).
    static let recordsPerRead = 4096

    /// Up to `limit` bytes of `stream` from log offset `offset` on.
    ///
    /// Bounded work whatever the index holds: the record holding `offset` is found by binary search, and
    /// at most ``recordsPerRead`` records are decoded; a read that stops there says it has not caught up,
    /// and the next read goes on from its `next`.
    ///
    /// - Parameter indexFrom: where to start scanning the index: 0, or a previous chunk's `nextIndex`
    ///   for the same job (a follower, so each wake-up reads only the index's new records).
    ///   The corresponding C functions are `open`, `fstat` and `pread`.
    public static func read(
        _ stream: StandardStream, log logPath: String, index indexPath: String, from offset: Int64, indexFrom: Int64 = 0,
        limit: Int
    ) -> Chunk {
        var chunk = Chunk(bytes: [], next: max(0, offset), nextIndex: max(0, indexFrom), caughtUp: true)
        guard limit > 0 else { return chunk }
        let log = open(logPath, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)
        guard log >= 0 else { return chunk }
        defer { close(log) }
        let index = open(indexPath, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)
        guard index >= 0 else { return chunk }  // a log kept before streams were indexed: nothing to tell apart
        defer { close(index) }
        var info = stat()
        guard fstat(log, &info) == 0 else { return chunk }
        let logSize = Int64(info.st_size)
        guard fstat(index, &info) == 0 else { return chunk }
        let records = Int64(info.st_size) / Int64(recordSize)
        // Records start in log order: every record before the last one starting at or before `offset`
        // ends by then (a record cut short by a crash ends where the next starts).
        let first = max(chunk.nextIndex / Int64(recordSize), lastRecord(startingAtOrBefore: chunk.next, in: index, count: records))
        let position = first * Int64(recordSize)
        chunk.nextIndex = position
        /// Takes the stream's bytes of `record` up to `end`; false once the page is full.
        func take(_ record: Record, until end: Int64) -> Bool {
            guard end > chunk.next else { return true }
            guard record.stream == stream else {
                chunk.next = end
                return true
            }
            let from = max(record.start, chunk.next)
            let count = Int(min(end - from, Int64(limit - chunk.bytes.count)))
            guard count > 0 else { return true }
            var bytes = [UInt8](repeating: 0, count: count)
            let read = bytes.withUnsafeMutableBytes { pread(log, $0.baseAddress, count, off_t(from)) }
            chunk.bytes += bytes.prefix(max(0, read))
            chunk.next = from + Int64(max(0, read))
            return read == count && chunk.bytes.count < limit
        }
        var block = [UInt8](repeating: 0, count: recordsPerRead * recordSize)
        var got = -1
        while got < 0 {
            got = block.withUnsafeMutableBytes { pread(index, $0.baseAddress, $0.count, off_t(position)) }
            if got < 0 && errno != EINTR { return chunk }
        }
        let whole = got / recordSize * recordSize
        // Each record is taken once the next is seen: a record cut short by a crash (its bytes never
        // written) ends where the next attempt's first record starts.
        var previous: Record?
        for at in stride(from: 0, to: whole, by: recordSize) {
            let record = Record(block, at: at)
            if let last = previous {
                guard take(last, until: min(last.start &+ last.length, record.start, logSize)) else {
                    chunk.caughtUp = false
                    return chunk
                }
            }
            previous = record
            // Records before this one are final; this one may still grow while its stream writes.
            chunk.nextIndex = position + Int64(at)
        }
        guard let last = previous else { return chunk }
        if got == block.count && first + Int64(recordsPerRead) < records {
            chunk.caughtUp = false  // more records than one read decodes: the next read goes on
        } else if !take(last, until: min(last.start &+ last.length, logSize)) {
            chunk.caughtUp = false
        }
        return chunk
    }

    /// The number of the last record whose run starts at or before `offset` (0 if none): a binary search
    /// over the index's sorted starts, reading one start per step.
    private static func lastRecord(startingAtOrBefore offset: Int64, in index: Int32, count: Int64) -> Int64 {
        func start(_ number: Int64) -> Int64? {
            var bytes = [UInt8](repeating: 0, count: recordSize)
            let got = bytes.withUnsafeMutableBytes { pread(index, $0.baseAddress, recordSize, off_t(number * Int64(recordSize))) }
            return got == recordSize ? Record(bytes, at: 0).start : nil
        }
        var (low, high) = (Int64(0), count - 1)
        var found: Int64 = 0
        while low <= high {
            let middle = low + (high - low) / 2
            guard let value = start(middle) else { return found }
            if value <= offset {
                found = middle
                low = middle + 1
            } else {
                high = middle - 1
            }
        }
        return found
    }
}
