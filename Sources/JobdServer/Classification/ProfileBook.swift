import JobdProtocol
import JobdStore

/// The learned profiles, kept in memory (classifying a submit reads no SQLite) and written through to
/// the store after each change.
///
/// **A user's runs teach only that user's profiles**, so no user can steer how another's jobs are
/// classified (issue 9, DESIGN §3). Root and the daemon's own user may also pin a signature for
/// everyone: such a pin (owner nil) applies to every user who has not pinned that signature themselves.
actor ProfileBook {
    /// Whose profile: a uid, or nil for a daemon-wide pin.
    struct Key: Hashable {
        var owner: UInt32?
        var signature: String
    }

    private var profiles: [Key: Profile]
    private let store: any JobStore
    private(set) var thresholds: ClassThresholds

    init(store: any JobStore, profiles: [Profile], thresholds: ClassThresholds) {
        self.store = store
        self.thresholds = thresholds
        self.profiles = Dictionary(
            profiles.map { (Key(owner: $0.ownerUID, signature: $0.signature), $0) }, uniquingKeysWith: { first, _ in first })
    }

    /// The profile that decides each signature for `owner`, in one hop for a whole submit: the user's own
    /// pin, else a daemon-wide pin, else what the user's own runs taught.
    /// New thresholds (a reload): profiles reclassify with them at their next run.
    func setThresholds(_ thresholds: ClassThresholds) { self.thresholds = thresholds }

    func profiles(for signatures: Set<String>, owner: UInt32) -> [String: Profile] {
        var found: [String: Profile] = [:]
        for signature in signatures {
            let own = profiles[Key(owner: owner, signature: signature)]
            if let own, own.pinned != nil {
                found[signature] = own
            } else if let everyone = profiles[Key(owner: nil, signature: signature)], everyone.pinned != nil {
                found[signature] = everyone
            } else {
                found[signature] = own
            }
        }
        return found
    }

    /// The profiles `owner` may see (their own and the daemon-wide pins), or every one for nil (root);
    /// most recently changed first.
    func all(visibleTo owner: UInt32?) -> [Profile] {
        profiles.values.filter { owner == nil || $0.ownerUID == nil || $0.ownerUID == owner }.sorted {
            ($0.changedAt?.secondsSinceEpoch ?? 0, $0.signature) > ($1.changedAt?.secondsSinceEpoch ?? 0, $1.signature)
        }
    }

    /// One finished run's evidence, for its owner's profile.
    func record(_ signature: String, owner: UInt32, ratio: Double, demand: Double?, at now: Timestamp) {
        let key = Key(owner: owner, signature: signature)
        var profile = profiles[key] ?? Profile(ownerUID: owner, signature: signature)
        profile.record(ratio: ratio, demand: demand, at: now, thresholds: thresholds)
        save(profile, at: now)
    }

    /// A running job's evidence: it has burnt CPU for long. - Returns: the profile after it.
    func recordWhileRunning(
        _ signature: String, owner: UInt32, ratio: Double, demand: Double, at now: Timestamp
    ) -> Profile {
        let key = Key(owner: owner, signature: signature)
        var profile = profiles[key] ?? Profile(ownerUID: owner, signature: signature)
        profile.recordWhileRunning(ratio: ratio, demand: demand, at: now, thresholds: thresholds)
        save(profile, at: now)
        return profile
    }

    /// Forgets a signature of one owner (nil: the daemon-wide pin). - Throws: `profileNotFound`, or a
    /// storage error.
    func reset(_ signature: String, owner: UInt32?) async throws {
        guard profiles.removeValue(forKey: Key(owner: owner, signature: signature)) != nil else {
            throw JobdError.profileNotFound(signature)
        }
        try await store.deleteProfile(owner: owner, signature: signature).committed()
    }

    /// Pins (or with nil unpins) a signature's class for one owner (nil: everyone); a signature never
    /// run gets a profile with 0 runs.
    func pin(_ signature: String, owner: UInt32?, to jobClass: JobClass?, at now: Timestamp) async throws -> Profile {
        let key = Key(owner: owner, signature: signature)
        if jobClass == nil && profiles[key] == nil { throw JobdError.profileNotFound(signature) }
        var profile = profiles[key] ?? Profile(ownerUID: owner, signature: signature)
        profile.pinned = jobClass
        profile.changedAt = now
        profiles[key] = profile
        try await store.saveProfile(profile, at: now).committed()
        return profile
    }

    private func save(_ profile: Profile, at now: Timestamp) {
        profiles[Key(owner: profile.ownerUID, signature: profile.signature)] = profile
        // Not awaited: a lost update to a moving average costs one run's evidence, never a job.
        _ = store.saveProfile(profile, at: now)
    }
}
