import JobdProtocol

/// Turns one reply message into its parameters, or into the daemon's typed error. Shared by both
/// connections so they cannot disagree about the protocol.
public enum ReplyDecoder {
    public static func decode<R: Decodable & Sendable>(_ bytes: [UInt8], as type: R.Type) throws -> (parameters: R, continues: Bool) {
        // One parse of the message, not a header pass and then a second pass for the parameters: in a
        // `jobctl status` the two passes were a tenth of the process's CPU time (perf, issue 12).
        let reply: ReplyEnvelope<R>
        do {
            reply = try WireJSON.decode(ReplyEnvelope<R>.self, from: bytes)
        } catch {
            throw ClientError.malformedReply(String(describing: error))
        }
        switch reply.body {
        case .parameters(let parameters):
            return (parameters, reply.continues == true)
        case .error(let name, let parameters):
            if let known = JobdError(name: name, parameters: parameters) { throw ClientError.remote(known) }
            throw ClientError.unknownRemoteError(name: name, parameters: parameters)
        }
    }

    public static func encodeCall(_ method: String, _ parameters: some Encodable & Sendable, more: Bool = false) throws -> [UInt8] {
        var bytes = try WireJSON.encode(VarlinkCall(method: method, parameters: parameters, more: more ? true : nil))
        bytes.append(0)
        return bytes
    }
}

/// A reply as one value: `error` decides how `parameters` is read (the method's reply type, or the
/// error's own parameters, which a reply that cannot be read leaves empty).
private struct ReplyEnvelope<R: Decodable>: Decodable {
    enum Body {
        case parameters(R)
        case error(name: String, parameters: [String: JSONValue])
    }

    var body: Body
    var continues: Bool?

    enum CodingKeys: String, CodingKey {
        case error, parameters, continues
    }

    init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        continues = try container.decodeIfPresent(Bool.self, forKey: .continues)
        if let name = try container.decodeIfPresent(String.self, forKey: .error) {
            let parameters = (try? container.decodeIfPresent([String: JSONValue].self, forKey: .parameters)) ?? nil
            body = .error(name: name, parameters: parameters ?? [:])
        } else {
            body = .parameters(try container.decode(R.self, forKey: .parameters))
        }
    }
}
