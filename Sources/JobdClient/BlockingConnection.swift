import Glibc
import JobdProtocol

/// A connection for command-line tools: plain blocking socket calls, no threads, no event loop.
///
/// Why not ``JobdConnection`` (SwiftNIO) here: a `jobctl` call makes one request and exits, and starting
/// NIO's event-loop threads and the async runtime costs more than the whole round trip (the bar is a 3 ms
/// `jobctl status`, process start included). Code that serves many connections at once uses NIO.
public final class BlockingConnection {
    private let descriptor: Int32
    private var buffer: [UInt8] = []
    private let maximumReplyBytes: Int

    /// Connects to the socket at `path`. The corresponding C functions are `socket` and `connect`.
    /// - Throws: `ClientError.daemonUnreachable`.
    public init(path: String, maximumReplyBytes: Int = 256 << 20) throws {
        self.maximumReplyBytes = maximumReplyBytes
        let descriptor = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard descriptor >= 0 else { throw ClientError.daemonUnreachable(path: path, reason: Self.errnoText()) }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let capacity = MemoryLayout.size(ofValue: address.sun_path)
        guard path.utf8.count < capacity else {
            close(descriptor)
            throw ClientError.daemonUnreachable(path: path, reason: "the path is longer than \(capacity - 1) bytes")
        }
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            raw.copyBytes(from: path.utf8)
            raw[path.utf8.count] = 0
        }
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(descriptor, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
            }
        }
        guard connected == 0 else {
            let code = errno
            let reason = Self.errnoText()
            close(descriptor)
            // Not allowed is not "not running": a person told to start a jobd that runs would be misled.
            if code == EACCES || code == EPERM { throw ClientError.notAllowed(path: path, reason: reason) }
            throw ClientError.daemonUnreachable(path: path, reason: reason)
        }
        self.descriptor = descriptor
    }

    deinit { close(descriptor) }

    /// Sends a call and returns its one reply.
    /// - Throws: `ClientError.remote` with the daemon's typed error, or a transport error.
    public func call<P: Encodable & Sendable, R: Decodable & Sendable>(
        _ method: String, _ parameters: P, returning: R.Type = R.self
    ) throws -> R {
        try send(ReplyDecoder.encodeCall(method, parameters))
        return try ReplyDecoder.decode(try nextMessage(), as: R.self).parameters
    }

    /// Sends a call with `more` and hands each reply to `each` until the last.
    public func stream<P: Encodable & Sendable, R: Decodable & Sendable>(
        _ method: String, _ parameters: P, each: (R) throws -> Void
    ) throws {
        try send(ReplyDecoder.encodeCall(method, parameters, more: true))
        while true {
            let (reply, continues) = try ReplyDecoder.decode(try nextMessage(), as: R.self)
            try each(reply)
            if !continues { return }
        }
    }

    /// Writes all of `bytes`. The corresponding C function is `send` (MSG_NOSIGNAL: a closed daemon is an
    /// error here, not a SIGPIPE).
    private func send(_ bytes: [UInt8]) throws {
        var offset = 0
        while offset < bytes.count {
            let sent = bytes[offset...].withUnsafeBytes { Glibc.send(descriptor, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if sent < 0 {
                if errno == EINTR { continue }
                throw ClientError.connectionClosed
            }
            offset += sent
        }
    }

    /// Reads until a NUL and returns the message before it. The corresponding C function is `read`.
    private func nextMessage() throws -> [UInt8] {
        var searched = 0
        while true {
            if let nul = buffer[searched...].firstIndex(of: 0) {
                let message = Array(buffer[..<nul])
                buffer.removeSubrange(...nul)
                return message
            }
            searched = buffer.count
            if buffer.count > maximumReplyBytes { throw ClientError.malformedReply("a reply exceeded \(maximumReplyBytes) bytes") }
            var chunk = [UInt8](repeating: 0, count: 64 * 1024)
            let count = chunk.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, $0.count) }
            if count < 0 && errno == EINTR { continue }
            guard count > 0 else { throw ClientError.connectionClosed }
            buffer.append(contentsOf: chunk[..<count])
        }
    }

    private static func errnoText() -> String { String(cString: strerror(errno)) }
}
