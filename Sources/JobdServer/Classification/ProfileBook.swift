import JobdProtocol
import JobdStore

/// The learned profiles, kept in memory (classifying a submit reads no SQLite) and written through to
/// the store after each change.
actor ProfileBook {
    private var profiles: [String: Profile]
    private let store: any JobStore
    let thresholds: ClassThresholds

    init(store: any JobStore, profiles: [Profile], thresholds: ClassThresholds) {
        self.store = store
        self.thresholds = thresholds
        self.profiles = Dictionary(profiles.map { ($0.signature, $0) }, uniquingKeysWith: { first, _ in first })
    }

    /// The profiles of these signatures, in one hop for a whole submit.
    func profiles(for signatures: Set<String>) -> [String: Profile] {
        var found: [String: Profile] = [:]
        for signature in signatures { found[signature] = profiles[signature] }
        return found
    }

    /// Every profile, most recently changed first.
    func all() -> [Profile] {
        profiles.values.sorted {
            ($0.changedAt?.secondsSinceEpoch ?? 0, $0.signature) > ($1.changedAt?.secondsSinceEpoch ?? 0, $1.signature)
        }
    }

    /// One finished run's evidence.
    func record(_ signature: String, ratio: Double, at now: Timestamp) {
        var profile = profiles[signature] ?? Profile(signature: signature)
        profile.record(ratio: ratio, at: now, thresholds: thresholds)
        save(profile, at: now)
    }

    /// A running job's evidence: it has burnt CPU for long. - Returns: the profile after it.
    func recordWhileRunning(_ signature: String, ratio: Double, at now: Timestamp) -> Profile {
        var profile = profiles[signature] ?? Profile(signature: signature)
        profile.recordWhileRunning(ratio: ratio, at: now, thresholds: thresholds)
        save(profile, at: now)
        return profile
    }

    /// Forgets a signature. - Throws: `profileNotFound`, or a storage error.
    func reset(_ signature: String) async throws {
        guard profiles.removeValue(forKey: signature) != nil else { throw JobdError.profileNotFound(signature) }
        try await store.deleteProfile(signature).committed()
    }

    /// Pins (or with nil unpins) a signature's class; a signature never run gets a profile with 0 runs.
    func pin(_ signature: String, to jobClass: JobClass?, at now: Timestamp) async throws -> Profile {
        var profile = profiles[signature] ?? Profile(signature: signature)
        if jobClass == nil && profiles[signature] == nil { throw JobdError.profileNotFound(signature) }
        profile.pinned = jobClass
        profile.changedAt = now
        profiles[signature] = profile
        try await store.saveProfile(profile, at: now).committed()
        return profile
    }

    private func save(_ profile: Profile, at now: Timestamp) {
        profiles[profile.signature] = profile
        // Not awaited: a lost update to a moving average costs one run's evidence, never a job.
        _ = store.saveProfile(profile, at: now)
    }
}
