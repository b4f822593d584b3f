import Foundation
import JobdProtocol
import NIOCore
import NIOExtras
import NIOPosix

/// The two pipes between the daemon and one worker, as a NIO channel of whole frames: a 4-byte
/// big-endian length, then that many bytes of JSON (one ``WorkerMessage``).
typealias WorkerChannel = NIOAsyncChannel<ByteBuffer, ByteBuffer>

enum WorkerFraming {
    /// A frame larger than this is a broken peer, not a message (handler output is sent in 64 KiB chunks;
    /// the largest honest frame is a `run` with a big environment or payload).
    static let maximumFrameBytes = 64 << 20

    /// Wraps a read and a write descriptor (taking ownership of both). A peer that announces a frame over
    /// `maximumInbound` ends the inbound stream with ``WorkerFrameError/oversized(bytes:limit:)`` as soon
    /// as its 4-byte length arrives: nothing of it is buffered.
    static func channel(
        reading input: Int32, writing output: Int32, maximumInbound: Int = maximumFrameBytes
    ) async throws -> WorkerChannel {
        try await NIOPipeBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .takingOwnershipOfDescriptors(input: input, output: output) { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(
                        ByteToMessageHandler(WorkerFrameDecoder(maximumFrameBytes: maximumInbound)))
                    try channel.pipeline.syncOperations.addHandler(LengthFieldPrepender(lengthFieldBitLength: .fourBytes))
                    // Half-closure on: finishing the writer closes our write end, which is how a worker is told to exit.
                    return try WorkerChannel(
                        wrappingChannelSynchronously: channel,
                        configuration: .init(isOutboundHalfClosureEnabled: true))
                }
            }
    }

    /// Encodes and decodes frames for one end of one channel. Each loop keeps its own: a coder is not
    /// shared across threads, and making one per frame showed in `perf` on the 20,000-job batch.
    struct Coder {
        private let encoder = JSONEncoder()
        private let decoder = JSONDecoder()

        func encode(_ message: WorkerMessage) -> ByteBuffer {
            if let bytes = try? encoder.encode(message) { return ByteBuffer(bytes: bytes) }
            // Only a number JSON cannot carry (NaN or infinity, say in a handler's result) fails here. A result
            // still ends its job, as a failure that says why, so nothing traps and nothing hangs.
            var fallback = WorkerMessage.heartbeat(rssBytes: nil)
            if case .result(let job, _, let rss) = message {
                let failure = RunOutcome(error: "the worker could not encode this job's outcome as JSON", wallSeconds: 0)
                fallback = .result(job: job, outcome: failure, rssBytes: rss)
            }
            let bytes = (try? encoder.encode(fallback)) ?? Data(#"{"heartbeat":{}}"#.utf8)
            return ByteBuffer(bytes: bytes)
        }

        func decode(_ frame: ByteBuffer) throws -> WorkerMessage {
            try decoder.decode(WorkerMessage.self, from: Data(frame.readableBytesView))
        }
    }
}

/// Why a worker channel was cut off.
enum WorkerFrameError: Error, CustomStringConvertible {
    /// The peer announced a frame longer than the limit; the channel is closed before any of it is read.
    case oversized(bytes: UInt32, limit: Int)

    var description: String {
        switch self {
        case .oversized(let bytes, let limit):
            "sent a frame of \(bytes) bytes, over the limit of \(limit) bytes"
        }
    }
}

/// Splits the byte stream into frames: a 4-byte big-endian length, then the frame. Unlike NIOExtras'
/// `LengthFieldBasedFrameDecoder`, which accepts any length up to 2 GiB and buffers until it has it all,
/// this one refuses a length over its limit the moment the length field is readable.
struct WorkerFrameDecoder: ByteToMessageDecoder {
    typealias InboundOut = ByteBuffer

    let maximumFrameBytes: Int

    mutating func decode(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws -> DecodingState {
        guard let length = buffer.getInteger(at: buffer.readerIndex, endianness: .big, as: UInt32.self) else {
            return .needMoreData
        }
        guard Int(length) <= maximumFrameBytes else { throw WorkerFrameError.oversized(bytes: length, limit: maximumFrameBytes) }
        guard buffer.readableBytes >= 4 + Int(length) else { return .needMoreData }
        buffer.moveReaderIndex(forwardBy: 4)
        guard let frame = buffer.readSlice(length: Int(length)) else { return .needMoreData }  // checked above
        context.fireChannelRead(wrapInboundOut(frame))
        return .continue
    }

    mutating func decodeLast(context: ChannelHandlerContext, buffer: inout ByteBuffer, seenEOF: Bool) throws -> DecodingState {
        while try decode(context: context, buffer: &buffer) == .continue {}
        return .needMoreData  // a partial frame at EOF is dropped: the peer is gone
    }
}
