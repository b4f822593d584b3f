import Logging
import NIOCore

/// Closes a connection whose current message has stalled: bytes of a message arrived, its NUL did not,
/// and nothing more came for `timeout`.
///
/// **An idle connection between messages is never closed** (clients wait on their own time); one that
/// stops mid-message is a slow-loris holding a buffer and a descriptor, and is. It sits before the NUL
/// frame decoder and sees the raw bytes: a read that does not end in NUL leaves a message unfinished.
final class FrameTimeoutHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer

    private let timeout: TimeAmount
    private let peer: Caller
    private let logger: Logger
    private var deadline: Scheduled<Void>?

    init(timeout: TimeAmount, peer: Caller, logger: Logger) {
        self.timeout = timeout
        self.peer = peer
        self.logger = logger
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let bytes = unwrapInboundIn(data)
        deadline?.cancel()
        deadline = nil
        if let last = bytes.readableBytesView.last, last != 0 {
            // Part of a message is buffered: it must progress within the timeout. Every read restarts it.
            let channel = context.channel
            let (timeout, peer, logger) = (timeout, peer, logger)
            deadline = context.eventLoop.scheduleTask(in: timeout) {
                logger.notice(
                    "closing a connection from pid \(peer.pid) (uid \(peer.uid)): a message made no progress for \(timeout)")
                channel.close(promise: nil)
            }
        }
        context.fireChannelRead(data)
    }

    func channelInactive(context: ChannelHandlerContext) {
        deadline?.cancel()
        deadline = nil
        context.fireChannelInactive()
    }
}
