/// `io.jobd.Ping`: the cheapest round trip; answers the daemon's version.
public enum Ping {
    public static let method = "io.jobd.Ping"
    public typealias Parameters = Empty

    public struct Reply: Hashable, Sendable, Codable {
        public var version: String
        public init(version: String) { self.version = version }
    }
}
