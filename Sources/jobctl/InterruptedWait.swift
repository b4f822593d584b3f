import Glibc
import JobdProtocol

/// What `jobctl submit --wait` says when it is interrupted (Ctrl-C) while it waits: the job goes on in
/// jobd, and the person needs its id to wait for it again or cancel it (issue 18: with stdout redirected,
/// they were left with neither).
enum InterruptedWait {
    /// The line the handler writes, prepared before it can run: a signal handler may only write and exit.
    nonisolated(unsafe) private static var line: UnsafeMutableBufferPointer<UInt8>?

    /// From now until the process ends, SIGINT (and SIGTERM) write which jobs keep running to stderr and
    /// end jobctl with 130, as an interrupted command does.
    static func sayWhatKeepsRunning(_ ids: [JobID]) {
        let list = ids.map(\.description).joined(separator: " ")
        let text =
            ids.count == 1
            ? "\njobctl: job \(list) keeps running in jobd; `jobctl wait \(list)` waits for it again, `jobctl cancel \(list)` stops it\n"
            : "\njobctl: jobs \(list) keep running in jobd; `jobctl wait \(list)` waits for them again, `jobctl cancel ID` stops one\n"
        let bytes = Array(text.utf8)
        let buffer = UnsafeMutableBufferPointer<UInt8>.allocate(capacity: bytes.count)
        _ = buffer.initialize(from: bytes)
        line = buffer
        for number in [SIGINT, SIGTERM] {
            signal(number) { _ in
                if let line = InterruptedWait.line { _ = write(2, line.baseAddress, line.count) }
                _exit(130)
            }
        }
    }
}
