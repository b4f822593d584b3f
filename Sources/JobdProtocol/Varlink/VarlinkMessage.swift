/// A varlink call as it arrives: `{"method": "io.jobd.Get", "parameters": {...}, "more": true}`.
///
/// Decoded in two steps: this header first, then the parameters into the method's own type, so an
/// unknown method is answered without knowing its parameters.
public struct VarlinkCallHeader: Sendable, Decodable {
    /// Fully qualified: `io.jobd.Submit`, `org.varlink.service.GetInfo`.
    public var method: String
    /// The client accepts several replies (`continues: true` on all but the last).
    public var more: Bool?
    /// The client wants no reply at all.
    public var oneway: Bool?
    /// Protocol upgrade: jobd has none and refuses it.
    public var upgrade: Bool?
}

/// The parameters of a call, decoded into the method's own type; absent parameters decode as `{}`.
public struct VarlinkCallParameters<Parameters: Decodable & Sendable>: Sendable, Decodable {
    public var parameters: Parameters?
}

/// A call to send: the client's side of ``VarlinkCallHeader``.
public struct VarlinkCall<Parameters: Encodable & Sendable>: Sendable, Encodable {
    public var method: String
    public var parameters: Parameters
    public var more: Bool?
    public var oneway: Bool?

    public init(method: String, parameters: Parameters, more: Bool? = nil, oneway: Bool? = nil) {
        self.method = method
        self.parameters = parameters
        self.more = more
        self.oneway = oneway
    }
}

/// A successful reply. `continues` is true on every reply of a `more` call but the last.
public struct VarlinkReply<Parameters: Sendable>: Sendable {
    public var parameters: Parameters
    public var continues: Bool?

    public init(parameters: Parameters, continues: Bool? = nil) {
        self.parameters = parameters
        self.continues = continues == true ? true : nil
    }
}

extension VarlinkReply: Encodable where Parameters: Encodable {}
extension VarlinkReply: Decodable where Parameters: Decodable {}

/// The part of every reply the client looks at first: an error name, and whether more follow.
public struct VarlinkReplyHeader: Sendable, Decodable {
    public var error: String?
    public var continues: Bool?
}

/// An error reply: `{"error": "io.jobd.JobNotFound", "parameters": {"id": 7}}`.
public struct VarlinkErrorReply: Sendable, Codable {
    public var error: String
    public var parameters: [String: JSONValue]

    public init(error: String, parameters: [String: JSONValue] = [:]) {
        self.error = error
        self.parameters = parameters
    }
}

/// An empty parameter or reply object, `{}`.
public struct Empty: Hashable, Sendable, Codable {
    public init() {}
}
