import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// Plays systemd's side of sd_notify(3) for a test: a datagram socket at a temp path that collects every
/// message the daemon sends, with the time each arrived.
public final class NotifyListener: @unchecked Sendable {
    public let path: String
    private let fd: Int32
    private var received: [(at: ContinuousClock.Instant, message: String)] = []

    public init(path: String) throws {
        self.path = path
        fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw TimedOut("socket: \(String(cString: strerror(errno)))") }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        guard bytes.count < MemoryLayout.size(ofValue: address.sun_path) else { throw TimedOut("path too long: \(path)") }
        withUnsafeMutableBytes(of: &address.sun_path) { buffer in
            for (index, byte) in bytes.enumerated() { buffer[index] = byte }
        }
        let result = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        guard result == 0 else { throw TimedOut("bind \(path): \(String(cString: strerror(errno)))") }
    }

    deinit { close(fd) }

    /// Every message so far (each one datagram, possibly several `KEY=value` lines).
    public func messages() -> [String] {
        drain()
        return received.map(\.message)
    }

    /// The arrival times of the messages that contain `line`.
    public func arrivals(of line: String) -> [ContinuousClock.Instant] {
        drain()
        return received.filter { $0.message.split(separator: "\n").contains { $0 == line } }.map(\.at)
    }

    /// Whether a message with exactly this line has arrived.
    public func hasReceived(_ line: String) -> Bool { !arrivals(of: line).isEmpty }

    private func drain() {
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let count = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, Int32(MSG_DONTWAIT)) }
            guard count > 0 else { return }
            received.append((ContinuousClock.now, String(decoding: buffer[0..<count], as: UTF8.self)))
        }
    }
}
