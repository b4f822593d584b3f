import JobdProtocol

/// Turns one reply message into its parameters, or into the daemon's typed error. Shared by both
/// connections so they cannot disagree about the protocol.
public enum ReplyDecoder {
    public static func decode<R: Decodable & Sendable>(_ bytes: [UInt8], as type: R.Type) throws -> (parameters: R, continues: Bool) {
        let header: VarlinkReplyHeader
        do {
            header = try WireJSON.decode(VarlinkReplyHeader.self, from: bytes)
        } catch {
            throw ClientError.malformedReply(String(describing: error))
        }
        if let name = header.error {
            let parameters = (try? WireJSON.decode(VarlinkErrorReply.self, from: bytes).parameters) ?? [:]
            if let known = JobdError(name: name, parameters: parameters) { throw ClientError.remote(known) }
            throw ClientError.unknownRemoteError(name: name, parameters: parameters)
        }
        do {
            let reply = try WireJSON.decode(VarlinkReply<R>.self, from: bytes)
            return (reply.parameters, reply.continues == true)
        } catch {
            throw ClientError.malformedReply(String(describing: error))
        }
    }

    public static func encodeCall(_ method: String, _ parameters: some Encodable & Sendable, more: Bool = false) throws -> [UInt8] {
        var bytes = try WireJSON.encode(VarlinkCall(method: method, parameters: parameters, more: more ? true : nil))
        bytes.append(0)
        return bytes
    }
}
