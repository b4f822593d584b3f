import Logging
import NIOCore

/// Closes a connection whose current message has stalled: bytes of a message arrived, its NUL did not,
/// and nothing more came for `timeout` although the daemon was reading.
///
/// **An idle connection between messages is never closed** (clients wait on their own time); one that
/// stops mid-message is a slow-loris holding a buffer and a descriptor, and is. It sits before the NUL
/// frame decoder and sees the raw bytes: a read that does not end in NUL leaves a message unfinished.
/// It also sees the channel's read requests: while the connection's stream holds back reading (a client
/// that pipelines calls behind a long one), no bytes can arrive, and the wait is not the client's stall.
final class FrameTimeoutHandler: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private let timeout: TimeAmount
    private let peer: Caller
    private let logger: Logger
    private var deadline: Scheduled<Void>?
    /// Part of a message is buffered, waiting for the rest.
    private var isMidMessage = false
    /// The daemon has asked for more bytes since the last read (backpressure has not held it back).
    private var isReading = false

    init(timeout: TimeAmount, peer: Caller, logger: Logger) {
        self.timeout = timeout
        self.peer = peer
        self.logger = logger
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let bytes = unwrapInboundIn(data)
        isReading = false
        if let last = bytes.readableBytesView.last {
            isMidMessage = last != 0
            // Progress: every read restarts the timeout; a read that ends a message stops it.
            armDeadline(context: context)
        }
        context.fireChannelRead(data)
    }

    func read(context: ChannelHandlerContext) {
        isReading = true
        context.read()
    }

    func channelInactive(context: ChannelHandlerContext) {
        deadline?.cancel()
        deadline = nil
        context.fireChannelInactive()
    }

    private func armDeadline(context: ChannelHandlerContext) {
        deadline?.cancel()
        deadline = nil
        guard isMidMessage else { return }
        let bound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        deadline = context.eventLoop.scheduleTask(in: timeout) {
            let (handler, context) = bound.value
            handler.deadlineReached(context: context)
        }
    }

    private func deadlineReached(context: ChannelHandlerContext) {
        deadline = nil
        guard isMidMessage else { return }
        guard isReading else {
            armDeadline(context: context)  // held back by the daemon, not stalled by the client
            return
        }
        logger.notice(
            "closing a connection from pid \(peer.pid) (uid \(peer.uid)): a message made no progress for \(timeout)")
        context.close(promise: nil)
    }
}
