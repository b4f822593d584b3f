import JobdProtocol
import JobdRunners
import JobdVarlinkNIO
import Logging
import NIOCore
import NIOPosix
import Synchronization

/// Accepts connections on the Unix socket, splits each byte stream into varlink calls, and hands every
/// call to the ``Responder``. It knows nothing about methods.
///
/// **A malformed or oversized message closes only its own connection**; every other connection and the
/// daemon carry on.
final class VarlinkListener: Sendable {
    typealias Connection = NIOAsyncChannel<ByteBuffer, ByteBuffer>

    private let server: NIOAsyncChannel<(Connection, Caller), Never>
    private let responder: Responder
    private let limiter: ConnectionLimiter
    /// Calls being answered now, so a shutdown can let their replies out before it closes connections.
    private let callsInFlight = Atomic<Int>(0)
    private let logger: Logger
    let path: String
    /// False for a socket systemd passed: its file stays when jobd stops, so the next connection starts jobd.
    private let ownsSocketFile: Bool

    /// Binds the socket (after removing a stale file), or adopts the listening socket systemd passed
    /// (`inheritedDescriptor`); clients can connect once this returns.
    static func bind(
        path: String, inheritedDescriptor: Int32? = nil, configuration: Setting<DaemonConfiguration>,
        responder: Responder, group: any EventLoopGroup, logger: Logger
    ) async throws -> VarlinkListener {
        // Each connection takes the limits of the moment it is accepted: a reload applies to the next.
        let initializer: @Sendable (any Channel) -> EventLoopFuture<(Connection, Caller)> = { channel in
            let (timeout, maximumMessageBytes) = (configuration.frameTimeout, configuration.maximumMessageBytes)
            let frameTimeout = TimeAmount.nanoseconds(
                timeout.components.seconds * 1_000_000_000 + timeout.components.attoseconds / 1_000_000_000)
            return channel.peerCredentials().flatMapThrowing { caller in
                try channel.pipeline.syncOperations.addHandler(
                    FrameTimeoutHandler(timeout: frameTimeout, peer: caller, logger: logger))
                try channel.pipeline.syncOperations.addHandler(
                    ByteToMessageHandler(NULFrameDecoder(maximumFrameLength: maximumMessageBytes)))
                // Read a connection's next message only when the one before is being answered: by
                // default NIO would buffer ten more behind a long call (a Wait), up to the message
                // limit each, for as long as that call lasts (found in review, issue 9).
                let configuration = Connection.Configuration(
                    backPressureStrategy: .init(lowWatermark: 1, highWatermark: 1))
                return (try Connection(wrappingChannelSynchronously: channel, configuration: configuration), caller)
            }
        }
        let server: NIOAsyncChannel<(Connection, Caller), Never>
        if let inheritedDescriptor {
            // Already bound and listening, with the mode the .socket unit set (SocketMode=).
            server = try await ServerBootstrap(group: group).bind(inheritedDescriptor, childChannelInitializer: initializer)
        } else {
            try await SocketFile.prepare(path, group: group)
            server = try await ServerBootstrap(group: group)
                .serverChannelOption(.backlog, value: 1024)
                .bind(unixDomainSocketPath: path, childChannelInitializer: initializer)
            // Anyone may connect; each request is then authorised from the peer's uid (DESIGN §6).
            SocketFile.makeConnectable(path)
        }
        return VarlinkListener(
            server: server, responder: responder,
            limiter: ConnectionLimiter(configuration: configuration),
            logger: logger, path: path, ownsSocketFile: inheritedDescriptor == nil)
    }

    private init(
        server: NIOAsyncChannel<(Connection, Caller), Never>, responder: Responder, limiter: ConnectionLimiter,
        logger: Logger, path: String, ownsSocketFile: Bool
    ) {
        self.server = server
        self.responder = responder
        self.limiter = limiter
        self.logger = logger
        self.path = path
        self.ownsSocketFile = ownsSocketFile
    }

    /// Serves connections until ``stopAccepting()``; then waits for open connections until cancelled.
    func run() async throws {
        try await withThrowingDiscardingTaskGroup { group in
            try await server.executeThenClose { connections in
                for try await (connection, caller) in connections {
                    if let refusal = limiter.admit(caller.uid) {
                        group.addTask { await self.refuse(connection, caller: caller, refusal) }
                        continue
                    }
                    group.addTask {
                        defer { self.limiter.release(caller.uid) }
                        await self.serveUntilClosed(connection, caller: caller)
                    }
                }
            }
        }
    }

    /// Closes the listening socket and removes its file (unless systemd owns it); open connections are
    /// untouched.
    func stopAccepting() async {
        try? await server.channel.close()
        if ownsSocketFile { SocketFile.remove(path) }
    }

    /// Returns once no call is being answered, or after `limit`: at shutdown the drain has just answered
    /// every waiting client (`ShuttingDown`), and those replies must reach the wire before connections
    /// are cancelled. A `logs --follow` of a requeued job never ends by itself; the limit bounds it.
    func finishCalls(within limit: Duration) async {
        let deadline = ContinuousClock.now + limit
        while callsInFlight.load(ordering: .relaxed) > 0, ContinuousClock.now < deadline {
            try? await Task.sleep(for: .milliseconds(10))
        }
    }

    /// The largest piece of a reply handed to the socket at once. Each write waits while the connection's
    /// unsent bytes are over NIO's high watermark (64 KiB), so a client that does not read holds its reply
    /// here, built once, and no copy of it grows in the channel.
    static let replyChunkBytes = 256 << 10

    /// Writes one reply, NUL-terminated, in chunks of at most ``replyChunkBytes``.
    private static func write(_ reply: [UInt8], to outbound: NIOAsyncChannelOutboundWriter<ByteBuffer>) async throws {
        var start = 0
        repeat {
            let end = min(start + replyChunkBytes, reply.count)
            var buffer = ByteBuffer()
            if end == reply.count {
                buffer.writeVarlinkMessage(Array(reply[start..<end]))
            } else {
                buffer.writeBytes(reply[start..<end])
            }
            try await outbound.write(buffer)
            start = end
        } while start < reply.count
    }

    /// Answers a connection past a limit with one `io.jobd.TooManyConnections` and closes it, so its
    /// client learns why instead of seeing a reset.
    private func refuse(_ connection: Connection, caller: Caller, _ refusal: ConnectionLimiter.Refusal) async {
        logger.notice("refusing a connection from pid \(caller.pid) (uid \(caller.uid)): \(refusal)")
        let error = JobdError.tooManyConnections(refusal.description)
        try? await connection.executeThenClose { inbound, outbound in
            var buffer = ByteBuffer()
            buffer.writeVarlinkMessage(
                try WireJSON.encode(VarlinkErrorReply(error: error.varlinkName, parameters: error.varlinkParameters)))
            try await outbound.write(buffer)
            outbound.finish()
            // Read what the client sent until it hangs up (1 s at most): closing a Unix socket with its
            // message unread makes the kernel report a reset to the client, which may then lose the reply.
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { for try await _ in inbound {} }
                group.addTask { try await Task.sleep(for: .seconds(1)) }
                try await group.next()
                group.cancelAll()
            }
        }
    }

    /// Serves a connection, and stops serving it the moment it closes: a call in progress (a `Wait` for a
    /// job delayed an hour, a `logs -f`) is cancelled then, so a client that went away holds no connection
    /// slot, waiter or reply (found in review, issue 18).
    private func serveUntilClosed(_ connection: Connection, caller: Caller) async {
        let closed = connection.channel.closeFuture
        let current = CurrentCall()
        await withTaskGroup(of: Bool.self) { group in
            group.addTask {
                await self.serve(connection, caller: caller, current: current)
                return false
            }
            group.addTask {
                try? await closed.get()
                return true
            }
            if await group.next() == true, let method = current.method {
                logger.debug("cancelled \(method) from pid \(caller.pid): its client has gone")
            }
            group.cancelAll()
        }
    }

    /// The method a connection is answering, if any (for the log line when its client goes away).
    private final class CurrentCall: Sendable {
        private let name = Mutex<String?>(nil)
        var method: String? { name.withLock { $0 } }
        func set(_ method: String?) { name.withLock { $0 = method } }
    }

    private func serve(_ connection: Connection, caller: Caller, current: CurrentCall) async {
        do {
            try await connection.executeThenClose { inbound, outbound in
                for try await frame in inbound {
                    let message = Array(frame.readableBytesView)
                    guard let header = try? WireJSON.decode(VarlinkCallHeader.self, from: message) else {
                        logger.notice("closing a connection from pid \(caller.pid): a message that is not a varlink call")
                        return
                    }
                    let channel = connection.channel
                    let call = IncomingCall(header: header, message: message, isConnectionOpen: { channel.isActive })
                    callsInFlight.add(1, ordering: .relaxed)
                    current.set(header.method)
                    defer {
                        callsInFlight.subtract(1, ordering: .relaxed)
                        current.set(nil)
                    }
                    try await responder.respond(to: call, caller: caller) { reply in
                        try await Self.write(reply, to: outbound)
                    }
                }
            }
        } catch let error as VarlinkFramingError {
            logger.notice("closing a connection from pid \(caller.pid): \(error)")
        } catch is CancellationError {
        } catch {
            logger.debug("connection from pid \(caller.pid) ended: \(error)")
        }
    }
}
