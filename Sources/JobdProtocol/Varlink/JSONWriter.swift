/// Writes the JSON of the records that replies carry by the thousand (``Job``, ``JobEnd``) straight into
/// bytes, without `JSONEncoder`.
///
/// Why by hand: `JSONEncoder` spent ~50 µs on one `Job` (a tree of boxed values, a dynamic cast and a
/// metadata lookup per field), so a `Wait` of 20,000 whole jobs took about a second, most of W1's
/// end-to-end time (perf, issue 12). This writer produces the same JSON values — every key present, `null`
/// for absent values, the same key names — and the decoders on both ends read it unchanged;
/// `WireTypesTests` compare the two encodings value for value. Key order differs (the wire's order is
/// not sorted either, and no reader depends on it).
///
/// **A new field of `Job` must be added here too** (the test catches a missing key).
public struct JSONWriter {
    /// The bytes written so far.
    public var bytes: [UInt8] = []

    public init() {}

    // MARK: - Values

    mutating func null() { bytes.append(contentsOf: [0x6E, 0x75, 0x6C, 0x6C]) }

    mutating func value(_ value: Bool) {
        if value { bytes.append(contentsOf: [0x74, 0x72, 0x75, 0x65]) } else { bytes.append(contentsOf: [0x66, 0x61, 0x6C, 0x73, 0x65]) }
    }

    mutating func value(_ value: some BinaryInteger) {
        // Decimal digits without String(describing:): an id or a count is written millions of times.
        var magnitude = value.magnitude
        if value < 0 { bytes.append(UInt8(ascii: "-")) }
        if magnitude == 0 {
            bytes.append(UInt8(ascii: "0"))
            return
        }
        var digits: (UInt64, UInt64, UInt64) = (0, 0, 0)  // room for 24 digits, written back to front
        var count = 0
        withUnsafeMutableBytes(of: &digits) { buffer in
            while magnitude > 0 {
                let (quotient, remainder) = magnitude.quotientAndRemainder(dividingBy: 10)
                count += 1
                buffer[buffer.count - count] = UInt8(ascii: "0") + UInt8(remainder)
                magnitude = quotient
            }
            bytes.append(contentsOf: buffer[(buffer.count - count)...])
        }
    }

    /// - Throws: `EncodingError.invalidValue` for infinity and NaN, which JSON cannot represent (as
    ///   `JSONEncoder` does).
    mutating func value(_ value: Double) throws {
        guard value.isFinite else {
            throw EncodingError.invalidValue(
                value, EncodingError.Context(codingPath: [], debugDescription: "\(value) is not a JSON number"))
        }
        // The shortest text that reads back as the same Double; "1.0" is written "1", as JSONEncoder does.
        var text = value.description
        if text.hasSuffix(".0") { text.removeLast(2) }
        bytes.append(contentsOf: text.utf8)
    }

    mutating func value(_ value: String) {
        bytes.append(UInt8(ascii: "\""))
        var value = value
        value.withUTF8 { utf8 in
            var start = 0
            for index in utf8.indices {
                let byte = utf8[index]
                // Quote, backslash and control characters are escaped; everything else (UTF-8 included,
                // and `/`, as the wire encoder's .withoutEscapingSlashes) is copied as it is.
                guard byte < 0x20 || byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\") else { continue }
                bytes.append(contentsOf: UnsafeBufferPointer(rebasing: utf8[start..<index]))
                start = index + 1
                switch byte {
                case UInt8(ascii: "\""): bytes.append(contentsOf: [0x5C, 0x22])
                case UInt8(ascii: "\\"): bytes.append(contentsOf: [0x5C, 0x5C])
                case 0x0A: bytes.append(contentsOf: [0x5C, UInt8(ascii: "n")])
                case 0x0D: bytes.append(contentsOf: [0x5C, UInt8(ascii: "r")])
                case 0x09: bytes.append(contentsOf: [0x5C, UInt8(ascii: "t")])
                case 0x08: bytes.append(contentsOf: [0x5C, UInt8(ascii: "b")])
                case 0x0C: bytes.append(contentsOf: [0x5C, UInt8(ascii: "f")])
                default:
                    let hex = Array("0123456789abcdef".utf8)
                    bytes.append(contentsOf: [0x5C, UInt8(ascii: "u"), 0x30, 0x30, hex[Int(byte >> 4)], hex[Int(byte & 0xF)]])
                }
            }
            bytes.append(contentsOf: UnsafeBufferPointer(rebasing: utf8[start...]))
        }
        bytes.append(UInt8(ascii: "\""))
    }

    mutating func value(_ value: JSONValue) throws {
        switch value {
        case .null: null()
        case .bool(let value): self.value(value)
        case .int(let value): self.value(value)
        case .double(let value): try self.value(value)
        case .string(let value): self.value(value)
        case .array(let elements):
            bytes.append(UInt8(ascii: "["))
            for (index, element) in elements.enumerated() {
                if index > 0 { bytes.append(UInt8(ascii: ",")) }
                try self.value(element)
            }
            bytes.append(UInt8(ascii: "]"))
        case .object(let members):
            bytes.append(UInt8(ascii: "{"))
            var first = true
            for (key, member) in members {
                if !first { bytes.append(UInt8(ascii: ",")) }
                first = false
                self.value(key)
                bytes.append(UInt8(ascii: ":"))
                try self.value(member)
            }
            bytes.append(UInt8(ascii: "}"))
        }
    }

    // MARK: - Members

    /// Starts a member: `"key":` after a comma unless it is the object's first.
    private mutating func key(_ key: StaticString, first: Bool = false) {
        if !first { bytes.append(UInt8(ascii: ",")) }
        bytes.append(UInt8(ascii: "\""))
        bytes.append(contentsOf: UnsafeBufferPointer(start: key.utf8Start, count: key.utf8CodeUnitCount))
        bytes.append(contentsOf: [UInt8(ascii: "\""), UInt8(ascii: ":")])
    }

    private mutating func member(_ name: StaticString, _ value: String?, first: Bool = false) {
        key(name, first: first)
        if let value { self.value(value) } else { null() }
    }

    private mutating func member(_ name: StaticString, _ value: (some BinaryInteger)?) {
        key(name)
        if let value { self.value(value) } else { null() }
    }

    private mutating func member(_ name: StaticString, _ value: Double?) throws {
        key(name)
        if let value { try self.value(value) } else { null() }
    }

    private mutating func member(_ name: StaticString, _ value: Timestamp?) {
        member(name, value?.rfc3339)
    }

    // MARK: - Records

    /// Appends `job` as the JSON object its `Encodable` conformance describes.
    /// - Throws: `EncodingError.invalidValue` for a measurement that is infinite or NaN.
    public mutating func write(_ job: Job) throws {
        bytes.append(UInt8(ascii: "{"))
        key("id", first: true)
        value(job.id.rawValue)
        member("name", job.name)
        member("state", job.state.rawValue)
        member("kind", job.kind)
        key("argv")
        if let argv = job.argv {
            bytes.append(UInt8(ascii: "["))
            for (index, argument) in argv.enumerated() {
                if index > 0 { bytes.append(UInt8(ascii: ",")) }
                value(argument)
            }
            bytes.append(UInt8(ascii: "]"))
        } else {
            null()
        }
        key("env")
        if let env = job.env {
            bytes.append(UInt8(ascii: "{"))
            var first = true
            for (name, text) in env {
                if !first { bytes.append(UInt8(ascii: ",")) }
                first = false
                value(name)
                bytes.append(UInt8(ascii: ":"))
                value(text)
            }
            bytes.append(UInt8(ascii: "}"))
        } else {
            null()
        }
        member("cwd", job.cwd)
        key("payload")
        try value(job.payload)
        member("queue", job.queue)
        member("class", job.class.rawValue)
        member("class_source", job.classSource.rawValue)
        member("class_reason", job.classReason)
        member("signature", job.signature)
        member("priority", job.priority)
        member("attempts", job.attempts)
        member("max_attempts", job.maxAttempts)
        member("run_at", job.runAt)
        member("backoff", job.backoff.rawValue)
        try member("backoff_seconds", job.backoffSeconds)
        member("on_success", job.onSuccess)
        member("on_failure", job.onFailure)
        member("hook_of", job.hookOf?.rawValue)
        try member("timeout_seconds", job.timeoutSeconds)
        member("owner_uid", job.ownerUID)
        member("owner_gid", job.ownerGID)
        member("created_at", job.createdAt)
        member("started_at", job.startedAt)
        member("finished_at", job.finishedAt)
        member("exit_code", job.exitCode)
        member("signal", job.signal)
        member("error", job.error)
        key("result")
        if let result = job.result { try value(result) } else { null() }
        try member("wall_seconds", job.wallSeconds)
        try member("cpu_seconds", job.cpuSeconds)
        try member("cpu_user_seconds", job.cpuUserSeconds)
        try member("cpu_system_seconds", job.cpuSystemSeconds)
        member("max_rss_bytes", job.maxRSSBytes)
        member("worker_pid", job.workerPID)
        try member("wait_seconds", job.waitSeconds)
        bytes.append(UInt8(ascii: "}"))
    }

    /// Appends `end` as the JSON object its `Encodable` conformance describes.
    public mutating func write(_ end: JobEnd) {
        bytes.append(UInt8(ascii: "{"))
        key("id", first: true)
        value(end.id.rawValue)
        member("state", end.state.rawValue)
        member("exit_code", end.exitCode)
        bytes.append(UInt8(ascii: "}"))
    }
}
