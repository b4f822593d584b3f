import JobdProtocol

/// One decoded varlink call: its header, and the whole message for decoding its parameters.
struct IncomingCall: Sendable {
    var header: VarlinkCallHeader
    var message: [UInt8]
    /// Whether the call's connection is still open: a long call (`Logs` with `follow`) stops when its
    /// client has gone, not when its job ends.
    var isConnectionOpen: @Sendable () -> Bool = { true }

    var method: String { header.method }
    var wantsMore: Bool { header.more == true }

    /// The call's parameters as the method's type; absent parameters are `{}`.
    /// - Throws: `JobdError.invalidParameter` naming the first field that is wrong.
    func parameters<P: Decodable & Sendable>(_ type: P.Type) throws(JobdError) -> P {
        do {
            if let parameters = try WireJSON.decode(VarlinkCallParameters<P>.self, from: message).parameters {
                return parameters
            }
            return try WireJSON.decode(P.self, from: Array("{}".utf8))
        } catch {
            throw .invalidParameter(Self.describe(error))
        }
    }

    private static func describe(_ error: any Error) -> String {
        func path(_ context: DecodingError.Context) -> String {
            context.codingPath.map { $0.intValue.map(String.init) ?? $0.stringValue }
                .filter { $0 != "parameters" }.joined(separator: ".")
        }
        switch error as? DecodingError {
        case .keyNotFound(let key, let context):
            let parent = path(context)
            return parent.isEmpty ? key.stringValue : parent + "." + key.stringValue
        case .typeMismatch(_, let context), .valueNotFound(_, let context), .dataCorrupted(let context):
            return path(context).isEmpty ? "parameters" : path(context)
        default:
            return "parameters"
        }
    }
}
