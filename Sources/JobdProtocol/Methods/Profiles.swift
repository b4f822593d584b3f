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
        /// The pin for everyone rather than the caller's own profile.
        public var everyone: Bool?
        public init(signature: String, everyone: Bool? = nil) {
            self.signature = signature
            self.everyone = everyone
        }
    }

    public typealias Reply = Empty
}

/// `io.jobd.PinProfile`: fixes a signature's class whatever its runs show; a null class unpins.
public enum PinProfile {
    public static let method = "io.jobd.PinProfile"

    public struct Parameters: Hashable, Sendable, Codable {
        public var signature: String
        public var `class`: JobClass?
        /// For every user, not only the caller (root or the daemon's user only).
        public var everyone: Bool?
        public init(signature: String, class: JobClass?, everyone: Bool? = nil) {
            self.signature = signature
            self.class = `class`
            self.everyone = everyone
        }
    }

    public struct Reply: Hashable, Sendable, Codable {
        public var profile: Profile
        public init(profile: Profile) { self.profile = profile }
    }
}
