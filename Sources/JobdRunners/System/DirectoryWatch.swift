import Glibc

/// Tells, on a thread of its own, which files of one directory were written: `inotify` on the logs
/// directory, so a client following a job's output is woken when output arrives instead of polling —
/// also for output a worker process writes, which the daemon does not see otherwise.
///
/// Written by hand: no library here wraps inotify. Each event names a file; runs of events for one file
/// are passed on as they come (the kernel already merges identical consecutive ones).
public final class DirectoryWatch: Sendable {
    private let descriptor: Int32

    /// Starts watching `directory`; `changed` gets the name of each file written or closed after writing.
    /// - Returns: nil when inotify is unavailable (too many watches, say): callers then fall back to polling.
    public init?(directory: String, changed: @escaping @Sendable (String) -> Void) {
        let fd = inotify_init1(Int32(IN_CLOEXEC))
        guard fd >= 0 else { return nil }
        guard inotify_add_watch(fd, directory, UInt32(IN_MODIFY) | UInt32(IN_CLOSE_WRITE)) >= 0 else {
            close(fd)
            return nil
        }
        descriptor = fd
        // A detached thread: the watch lives as long as the daemon, and its blocking read must not hold a
        // thread of the cooperative pool.
        var thread = pthread_t()
        let context = Unmanaged.passRetained(Reader(fd: fd, changed: changed)).toOpaque()
        guard pthread_create(&thread, nil, { context in
            let reader = Unmanaged<Reader>.fromOpaque(context!).takeRetainedValue()
            reader.run()
            return nil
        }, context) == 0 else {
            Unmanaged<Reader>.fromOpaque(context).release()
            close(fd)
            return nil
        }
        pthread_detach(thread)
    }

    private final class Reader {
        let fd: Int32
        let changed: @Sendable (String) -> Void
        init(fd: Int32, changed: @escaping @Sendable (String) -> Void) {
            self.fd = fd
            self.changed = changed
        }

        func run() {
            var buffer = [UInt8](repeating: 0, count: 64 * 1024)
            let header = MemoryLayout<inotify_event>.size
            while true {
                let count = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
                if count < 0 && errno == EINTR { continue }
                guard count > 0 else { return }
                var offset = 0
                while offset + header <= count {
                    // inotify_event: wd (4), mask (4), cookie (4), len (4), then len bytes of NUL-padded name.
                    let length = buffer.withUnsafeBytes { Int($0.loadUnaligned(fromByteOffset: offset + 12, as: UInt32.self)) }
                    let nameStart = offset + header
                    let nameEnd = min(count, nameStart + length)
                    if length > 0, nameStart < nameEnd {
                        let name = buffer[nameStart..<nameEnd].prefix { $0 != 0 }
                        changed(String(decoding: name, as: UTF8.self))
                    }
                    offset = nameStart + length
                }
            }
        }
    }
}
