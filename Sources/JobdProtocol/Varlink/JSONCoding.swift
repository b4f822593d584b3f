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

    /// Decodes a value from JSON bytes.
    public static func decode<T: Decodable>(_ type: T.Type, from bytes: some Collection<UInt8>) throws -> T {
        try JSONDecoder().decode(type, from: Data(bytes))
    }
}
