/// A job's identity: 64-bit, assigned by the store, increasing, never reused.
public struct JobID: RawRepresentable, Hashable, Comparable, Sendable, Codable, CustomStringConvertible {
    public var rawValue: Int64

    public init(rawValue: Int64) { self.rawValue = rawValue }
    public init(_ rawValue: Int64) { self.rawValue = rawValue }

    /// Decodes an id and checks it is in ``JobLimits/idRange``: 0 or a negative id is refused at the edge
    /// (`InvalidParameter` naming it) rather than looked up; one past `Int64.max` fails as a number.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        guard let value = try? container.decode(Int64.self) else {
            // Rethrown with this value's path: the decoder reports 1e300 or 1.5 as invalid JSON with none.
            throw DecodingError.dataCorruptedError(in: container, debugDescription: "a job id is a whole number")
        }
        guard JobLimits.idRange.contains(value) else {
            throw DecodingError.dataCorruptedError(
                in: container, debugDescription: "a job id is in 1...\(Int64.max), got \(value)")
        }
        self.rawValue = value
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(rawValue)
    }

    public static func < (lhs: JobID, rhs: JobID) -> Bool { lhs.rawValue < rhs.rawValue }
    public var description: String { String(rawValue) }
}
