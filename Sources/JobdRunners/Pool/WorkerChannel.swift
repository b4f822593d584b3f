import Foundation
import JobdProtocol
import NIOCore
import NIOExtras
import NIOPosix

/// The two pipes between the daemon and one worker, as a NIO channel of whole frames: a 4-byte
/// big-endian length, then that many bytes of JSON (one ``WorkerMessage``). NIOExtras does the framing.
typealias WorkerChannel = NIOAsyncChannel<ByteBuffer, ByteBuffer>

enum WorkerFraming {
    /// A frame larger than this is a broken peer, not a message (handler output is sent in 64 KiB chunks).
    static let maximumFrameBytes = 64 << 20

    /// Wraps a read and a write descriptor (taking ownership of both).
    static func channel(reading input: Int32, writing output: Int32) async throws -> WorkerChannel {
        try await NIOPipeBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .takingOwnershipOfDescriptors(input: input, output: output) { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(
                        ByteToMessageHandler(LengthFieldBasedFrameDecoder(lengthFieldBitLength: .fourBytes)))
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
