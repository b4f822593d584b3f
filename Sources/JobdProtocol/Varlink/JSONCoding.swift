#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// The one JSON configuration both ends use. Keys are spelled out in `CodingKeys` (snake_case on the wire),
/// so no key strategy is needed, and none is paid for per message.
public enum WireJSON {
    /// Encodes a value to JSON bytes.
    public static func encode(_ value: some Encodable) throws -> [UInt8] {
        let encoder = JSONEncoder()
        // Keys in the order each type encodes them: sorting every object's keys showed in `perf` on
        // large replies, and no reader depends on the order. People's JSON (`encodePretty`) stays sorted.
        encoder.outputFormatting = [.withoutEscapingSlashes]
        return Array(try encoder.encode(value))
    }

    /// Encodes a value to indented JSON text, for people (`jobctl --json`).
    public static func encodePretty(_ value: some Encodable) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes]
        return String(decoding: try encoder.encode(value), as: UTF8.self)
    }

    /// The bytes of a reply `{"parameters": {"<key>": [<element>, ...]}}`, each element encoded on its own.
    ///
    /// The same JSON as encoding the whole reply at once, without the encoder's intermediate tree of the
    /// whole array: a Wait for 20,000 jobs peaked at tens of MB that way.
    public static func encodeArrayReply(key: String, _ elements: [some Encodable]) throws -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.withoutEscapingSlashes]
        var bytes = Array("{\"parameters\":{\"\(key)\":[".utf8)
        for (index, element) in elements.enumerated() {
            if index > 0 { bytes.append(UInt8(ascii: ",")) }
            bytes += try encoder.encode(element)
        }
        bytes += Array("]}}".utf8)
        return bytes
    }

    /// Builds the bytes of a reply `{"parameters": {"<key>": [<element>, ...]}}` one element at a time, and
    /// never past a byte bound: a reply of gigabytes is refused while it is built, not after.
    public struct BoundedArrayReply {
        /// The most bytes the finished reply may have, its closing brackets and extra members included.
        public let limit: Int
        /// Elements appended so far.
        public private(set) var count = 0
        private var bytes: [UInt8]
        private let encoder = JSONEncoder()
        /// Kept free for `]`, `}}` and a short extra member such as `"next_before_id": N`.
        private static let reserve = 64

        public init(key: String, limit: Int) {
            self.limit = limit
            encoder.outputFormatting = [.withoutEscapingSlashes]
            bytes = Array("{\"parameters\":{\"\(key)\":[".utf8)
        }

        /// How many elements to read for the next batch: about an eighth of the bound's worth at the
        /// average size so far, 1 to 256 (16 before any), so the rows read beside the reply stay small
        /// when jobs are large (1 MB jobs: 8 at a time under the 64 MiB bound), and small jobs still come
        /// in few reads.
        public var suggestedBatch: Int {
            guard count > 0 else { return 16 }
            let average = max(1, bytes.count / count)
            return min(256, max(1, limit / 8 / average))
        }

        /// Appends one element, or nothing when it would take the reply past `limit`.
        /// - Returns: whether it was appended.
        public mutating func append(_ element: some Encodable) throws -> Bool {
            let encoded = try encoder.encode(element)
            guard bytes.count + 1 + encoded.count + Self.reserve <= limit else { return false }
            if count > 0 { bytes.append(UInt8(ascii: ",")) }
            bytes += encoded
            count += 1
            return true
        }

        /// Appends one job, written by ``JSONWriter`` (a fiftieth of `JSONEncoder`'s time), or nothing when
        /// it would take the reply past `limit`.
        /// - Returns: whether it was appended.
        public mutating func append(_ job: Job) throws -> Bool {
            try appendWritten { try $0.write(job) }
        }

        /// Appends how one job ended, written by ``JSONWriter``, or nothing past `limit`.
        /// - Returns: whether it was appended.
        public mutating func append(_ end: JobEnd) throws -> Bool {
            try appendWritten { $0.write(end) }
        }

        /// Writes an element in place after the ones before, and takes it back if it passed the bound.
        private mutating func appendWritten(_ write: (inout JSONWriter) throws -> Void) throws -> Bool {
            let start = bytes.count
            var writer = JSONWriter()
            swap(&writer.bytes, &bytes)
            defer { swap(&writer.bytes, &bytes) }
            if count > 0 { writer.bytes.append(UInt8(ascii: ",")) }
            do {
                try write(&writer)
            } catch {
                writer.bytes.removeSubrange(start...)
                throw error
            }
            guard writer.bytes.count + Self.reserve <= limit else {
                writer.bytes.removeSubrange(start...)
                return false
            }
            count += 1
            return true
        }

        /// The finished reply; `extra` (at most a few dozen bytes) is added after the array, e.g.
        /// `"next_before_id":7`.
        public consuming func finish(extra: String? = nil) -> [UInt8] {
            bytes.append(UInt8(ascii: "]"))
            if let extra { bytes += Array(",\(extra)".utf8) }
            bytes += Array("}}".utf8)
            return bytes
        }
    }

    /// Decodes a value from JSON bytes.
    public static func decode<T: Decodable>(_ type: T.Type, from bytes: some Collection<UInt8>) throws -> T {
        try JSONDecoder().decode(type, from: Data(bytes))
    }
}
