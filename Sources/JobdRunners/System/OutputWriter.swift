import Glibc
import JobdProtocol

/// Appends one attempt's output to its job's log, and records in the log's index which stream each run
/// of bytes came from: the log keeps stdout and stderr interleaved in the order they were read, the index
/// lets `logs --stdout` / `--stderr` take either apart (see ``OutputIndex``).
///
/// Not thread-safe: the process reactor owns one per child on its thread; ``OutputAppender`` puts one
/// behind a lock for handlers. Both files are opened at the first byte kept: most jobs write nothing.
struct OutputWriter {
    let logPath: String
    let indexPath: String
    /// What this attempt may still add to the log and its index together: a new run costs its index
    /// record, so a job alternating one-byte writes cannot grow the index past the job's output limit.
    private var room: Int64
    private var logFD: Int32 = -1
    private var indexFD: Int32 = -1
    /// Where the next byte lands in the log: its size when opened, then counted here (only this attempt
    /// appends to the job's log while it runs).
    private var logEnd: Int64 = 0
    /// Where the next index record goes.
    private var indexEnd: Int64 = 0
    /// The run being extended, while the same stream keeps writing: its record is rewritten in place.
    private var run: (stream: StandardStream, start: Int64, length: Int64, at: Int64)?
    /// Output was dropped: past the limit, or the files could not be opened or written.
    private(set) var truncated = false
    /// Closed for good: the attempt is over. A handler abandoned after a stop may still write; reopening
    /// would make a second writer of the job's log beside the next attempt's (each counting the files'
    /// ends on its own), or recreate the files of a pruned job.
    private var isClosed = false

    init(logPath: String, indexPath: String, limit: Int64) {
        self.logPath = logPath
        self.indexPath = indexPath
        self.room = max(0, limit)
    }

    /// Keeps what fits of `bytes` as output of `stream`.
    ///
    /// The index record is written before the bytes it describes: after a crash between the two, the
    /// record claims bytes the log lacks, which readers clamp to the log's size, and the next attempt's
    /// records carry their own start offsets, so nothing after is misattributed.
    mutating func append(_ bytes: UnsafeRawBufferPointer, from stream: StandardStream) {
        guard !bytes.isEmpty, !isClosed else { return }
        // Once anything was dropped, nothing later is kept: the log stays a prefix of what was written.
        guard !truncated else { return }
        let extending = run.map { $0.stream == stream && $0.length + Int64(bytes.count) <= OutputIndex.maximumRun } ?? false
        let recordCost = extending ? 0 : Int64(OutputIndex.recordSize)
        let keep = Int(max(0, min(Int64(bytes.count), room - recordCost)))
        if keep < bytes.count { truncated = true }
        guard keep > 0, open() else { return }
        var current = (stream: stream, start: logEnd, length: Int64(0), at: indexEnd)
        if extending, let run { current = run }
        current.length += Int64(keep)
        guard writeRecord(current) else { return fail() }
        if !extending { indexEnd += Int64(OutputIndex.recordSize) }
        room -= recordCost + Int64(keep)
        run = current
        let written = writeAll(logFD, UnsafeRawBufferPointer(rebasing: bytes[0..<keep]))
        logEnd += Int64(written)
        if written < keep {
            // The disk is full or the file went away: the record says what the log really holds, and no
            // more is kept for this attempt.
            current.length -= Int64(keep - written)
            run = current
            _ = writeRecord(current)
            fail()
        }
    }

    /// Closes both files for good: later appends are dropped.
    mutating func close() {
        if logFD >= 0 { _ = Glibc.close(logFD) }
        if indexFD >= 0 { _ = Glibc.close(indexFD) }
        (logFD, indexFD, run) = (-1, -1, nil)
        isClosed = true
    }

    private mutating func fail() {
        truncated = true
        close()
    }

    /// Opens the log and its index (creating them, mode 0600) if they are not open yet.
    /// - Returns: whether both are open; if not, nothing more is kept for this attempt.
    private mutating func open() -> Bool {
        if logFD >= 0 && indexFD >= 0 { return true }
        // O_NOFOLLOW: a link in place of a job's log is never written through (the logs directory is the
        // daemon's own, StateDirectory; this is the second line of defence).
        logFD = Glibc.open(logPath, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0o600)
        indexFD = Glibc.open(indexPath, O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0o600)
        var logInfo = stat()
        var indexInfo = stat()
        guard logFD >= 0, indexFD >= 0, fstat(logFD, &logInfo) == 0, fstat(indexFD, &indexInfo) == 0 else {
            fail()
            return false
        }
        logEnd = Int64(logInfo.st_size)
        // A record cut short by a crash is overwritten rather than followed.
        indexEnd = Int64(indexInfo.st_size) / Int64(OutputIndex.recordSize) * Int64(OutputIndex.recordSize)
        return true
    }

    private func writeRecord(_ run: (stream: StandardStream, start: Int64, length: Int64, at: Int64)) -> Bool {
        let record = OutputIndex.Record(stream: run.stream, start: run.start, length: run.length).encoded
        return record.withUnsafeBytes { bytes in
            guard let base = bytes.baseAddress else { return false }
            var done = 0
            while done < bytes.count {
                let count = pwrite(indexFD, base + done, bytes.count - done, off_t(run.at) + off_t(done))
                if count < 0 && errno == EINTR { continue }
                guard count > 0 else { return false }
                done += count
            }
            return true
        }
    }

    /// Writes as much of `bytes` as the file takes; returns how many bytes it took.
    private func writeAll(_ fd: Int32, _ bytes: UnsafeRawBufferPointer) -> Int {
        guard let base = bytes.baseAddress else { return 0 }
        var done = 0
        while done < bytes.count {
            let count = write(fd, base + done, bytes.count - done)
            if count < 0 && errno == EINTR { continue }
            guard count > 0 else { break }
            done += count
        }
        return done
    }
}
