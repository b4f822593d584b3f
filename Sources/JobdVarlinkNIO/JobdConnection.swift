import JobdClient
import JobdProtocol
import NIOCore
import NIOPosix

/// One connection to jobd. Calls on it are answered in order (varlink has no request ids).
///
/// Use it inside ``withConnection(path:maximumReplyBytes:_:)``, which closes it afterwards. The body runs
/// on the connection's event loop: it may await anything, but must not block.
public final class JobdConnection {
    typealias Channel = NIOAsyncChannel<ByteBuffer, ByteBuffer>

    private var inbound: NIOAsyncChannelInboundStream<ByteBuffer>.AsyncIterator
    private let outbound: NIOAsyncChannelOutboundWriter<ByteBuffer>

    init(inbound: NIOAsyncChannelInboundStream<ByteBuffer>, outbound: NIOAsyncChannelOutboundWriter<ByteBuffer>) {
        self.inbound = inbound.makeAsyncIterator()
        self.outbound = outbound
    }

    /// Connects, runs `body`, and closes the connection.
    /// - Parameter maximumReplyBytes: the largest reply accepted (a `List` of 10,000 jobs is a few MB).
    /// - Throws: `ClientError.daemonUnreachable` when nothing listens; whatever `body` throws.
    public static func withConnection<R: Sendable>(
        path: String, maximumReplyBytes: Int = 256 << 20, _ body: (JobdConnection) async throws -> R
    ) async throws -> R {
        let channel: Channel
        do {
            channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                .connect(unixDomainSocketPath: path) { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.addHandler(
                            ByteToMessageHandler(NULFrameDecoder(maximumFrameLength: maximumReplyBytes)))
                        return try Channel(wrappingChannelSynchronously: channel)
                    }
                }
        } catch {
            throw ClientError.daemonUnreachable(path: path, reason: Self.describe(error))
        }
        // The body runs on the connection's event loop (see EventLoopTaskExecutor): a call is then one
        // write and one read on that thread, with no hop through the cooperative pool either way.
        return try await withTaskExecutorPreference(EventLoopTaskExecutor(channel.channel.eventLoop)) {
            try await channel.executeThenClose { inbound, outbound in
                try await body(JobdConnection(inbound: inbound, outbound: outbound))
            }
        }
    }

    /// Sends a call and returns its one reply.
    /// - Throws: `ClientError.remote` with the daemon's typed error, or a transport error.
    public func call<P: Encodable & Sendable, R: Decodable & Sendable>(
        _ method: String, _ parameters: P, returning: R.Type = R.self
    ) async throws -> R {
        try await send(VarlinkCall(method: method, parameters: parameters))
        return try await nextReply(R.self).parameters
    }

    /// Sends a call with `more` and returns its replies as they come; the last has `continues` unset.
    public func stream<P: Encodable & Sendable, R: Decodable & Sendable>(
        _ method: String, _ parameters: P, each: (R) async throws -> Void
    ) async throws {
        try await send(VarlinkCall(method: method, parameters: parameters, more: true))
        while true {
            let (reply, continues) = try await nextReply(R.self)
            try await each(reply)
            if !continues { return }
        }
    }

    /// Sends bytes as they are (followed by the NUL), for tests of malformed input.
    public func sendRaw(_ bytes: [UInt8]) async throws {
        var buffer = ByteBuffer()
        buffer.writeVarlinkMessage(bytes)
        try await outbound.write(buffer)
    }

    /// The next reply, as raw JSON bytes; nil when the daemon closed the connection.
    public func nextRawReply() async throws -> [UInt8]? {
        guard let frame = try await inbound.next() else { return nil }
        return Array(frame.readableBytesView)
    }

    private func send(_ call: some Encodable) async throws {
        try await sendRaw(try WireJSON.encode(call))
    }

    private func nextReply<R: Decodable & Sendable>(_ type: R.Type) async throws -> (parameters: R, continues: Bool) {
        guard let bytes = try await nextRawReply() else { throw ClientError.connectionClosed }
        return try ReplyDecoder.decode(bytes, as: R.self)
    }

    private static func describe(_ error: any Error) -> String {
        if let error = error as? IOError { return error.description }
        return String(describing: error)
    }
}
