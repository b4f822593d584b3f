import JobdProtocol
import NIOCore

/// Splits a varlink byte stream into messages: each is JSON followed by one NUL byte.
///
/// A message longer than `maximumFrameLength` is an error before it is complete, so a client cannot make
/// the daemon buffer without bound; the channel closes that one connection.
public struct NULFrameDecoder: ByteToMessageDecoder {
    public typealias InboundOut = ByteBuffer

    /// The longest message accepted, in bytes, NUL excluded.
    public let maximumFrameLength: Int
    /// How far the current buffer has been searched, so a large frame arriving in pieces is scanned once.
    private var scanned = 0

    public init(maximumFrameLength: Int) {
        self.maximumFrameLength = maximumFrameLength
    }

    public mutating func decode(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws -> DecodingState {
        let view = buffer.readableBytesView
        let start = view.startIndex + scanned
        guard let nul = view[start...].firstIndex(of: 0) else {
            scanned = view.count
            if view.count > maximumFrameLength {
                throw VarlinkFramingError.frameTooLarge(limit: maximumFrameLength)
            }
            return .needMoreData
        }
        let length = nul - view.startIndex
        if length > maximumFrameLength { throw VarlinkFramingError.frameTooLarge(limit: maximumFrameLength) }
        let frame = buffer.readSlice(length: length)!
        buffer.moveReaderIndex(forwardBy: 1)
        scanned = 0
        context.fireChannelRead(Self.wrapInboundOut(frame))
        return .continue
    }

    public mutating func decodeLast(
        context: ChannelHandlerContext, buffer: inout ByteBuffer, seenEOF: Bool
    ) throws -> DecodingState {
        while try decode(context: context, buffer: &buffer) == .continue {}
        return .needMoreData  // a trailing partial message at EOF is dropped: its sender has gone
    }
}

/// Why a connection's byte stream was refused.
public enum VarlinkFramingError: Error, Hashable, CustomStringConvertible {
    /// A message grew past the limit before its NUL arrived.
    case frameTooLarge(limit: Int)

    public var description: String {
        switch self {
        case .frameTooLarge(let limit): "a varlink message exceeded \(limit) bytes; the connection was closed"
        }
    }
}

extension ByteBuffer {
    /// Appends one varlink message: the JSON bytes and the terminating NUL.
    public mutating func writeVarlinkMessage(_ json: [UInt8]) {
        reserveCapacity(minimumWritableBytes: json.count + 1)
        writeBytes(json)
        writeInteger(UInt8(0))
    }
}
