/// `io.jobd.Profiles`: every learned (or pinned) signature, most recently changed first.
public enum Profiles {
    public static let method = "io.jobd.Profiles"

    public typealias Parameters = Empty

    public struct Reply: Hashable, Sendable, Codable {
        public var profiles: [Profile]
        public init(profiles: [Profile]) { self.profiles = profiles }
    }
}

/// `io.jobd.ResetProfile`: forgets what was learned about a signature (and its pin).
public enum ResetProfile {
    public static let method = "io.jobd.ResetProfile"

    public struct Parameters: Hashable, Sendable, Codable {
        public var signature: String
        public init(signature: String) { self.signature = signature }
    }

    public typealias Reply = Empty
}

/// `io.jobd.PinProfile`: fixes a signature's class whatever its runs show; a null class unpins.
public enum PinProfile {
    public static let method = "io.jobd.PinProfile"

    public struct Parameters: Hashable, Sendable, Codable {
        public var signature: String
        public var `class`: JobClass?
        public init(signature: String, class: JobClass?) {
            self.signature = signature
            self.class = `class`
        }
    }

    public struct Reply: Hashable, Sendable, Codable {
        public var profile: Profile
        public init(profile: Profile) { self.profile = profile }
    }
}
