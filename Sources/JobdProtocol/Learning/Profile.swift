/// What jobd has learned about one signature: how many runs, how CPU-hungry they were, and the class
/// that follows.
public struct Profile: Hashable, Sendable, Codable {
    /// Whose runs taught it: a user's runs teach only that user's profiles, so no one steers another's
    /// jobs. Nil: a daemon-wide pin, set by root or the daemon's user, which applies to everyone.
    public var ownerUID: UInt32?
    public var signature: String
    public var runs: Int
    /// Moving average of CPU seconds (user + sys, the job's whole process tree) per wall second. Above 1,
    /// it is roughly how many cores the job kept busy.
    public var cpuRatio: Double
    /// The learned class; nil while the evidence sits between the thresholds and never crossed one.
    public var learnedClass: JobClass?
    /// When `learnedClass` last changed.
    public var changedAt: Timestamp?
    /// Set by `jobctl profiles pin`: wins over what was learned.
    public var pinned: JobClass?

    public init(
        ownerUID: UInt32? = nil, signature: String, runs: Int = 0, cpuRatio: Double = 0, learnedClass: JobClass? = nil,
        changedAt: Timestamp? = nil, pinned: JobClass? = nil
    ) {
        self.ownerUID = ownerUID
        self.signature = signature
        self.runs = runs
        self.cpuRatio = cpuRatio
        self.learnedClass = learnedClass
        self.changedAt = changedAt
        self.pinned = pinned
    }

    enum CodingKeys: String, CodingKey {
        case signature, runs, pinned
        case ownerUID = "owner_uid"
        case cpuRatio = "cpu_ratio"
        case learnedClass = "class"
        case changedAt = "changed_at"
    }

    // Absent values are sent as null, so `jobctl profiles --json` always shows every field.
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(ownerUID, forKey: .ownerUID)
        try c.encode(signature, forKey: .signature)
        try c.encode(runs, forKey: .runs)
        try c.encode(cpuRatio, forKey: .cpuRatio)
        try c.encode(learnedClass, forKey: .learnedClass)
        try c.encode(changedAt, forKey: .changedAt)
        try c.encode(pinned, forKey: .pinned)
    }

    /// The class jobs of this signature get, if the profile decides one.
    public var effectiveClass: JobClass? { pinned ?? learnedClass }

    /// Adds one finished run's ratio.
    ///
    /// The average weighs the newest run by `thresholds.weight` (the first run is taken as is), so a
    /// signature follows a real change within a few runs while one odd run moves it only part way.
    /// The class moves only across the band: to `cpu` at or above `upper`, to `io` at or below `lower`;
    /// in between it keeps what it had, so a ratio near one threshold does not flap.
    public mutating func record(ratio: Double, at now: Timestamp, thresholds: ClassThresholds) {
        // Bounded: a ratio is CPU-s per wall-s, at most the core count; a bogus one must not poison the average.
        let ratio = ratio.isFinite ? min(max(0, ratio), 4096) : 0
        cpuRatio = runs == 0 ? ratio : thresholds.weight * ratio + (1 - thresholds.weight) * cpuRatio
        runs += 1
        reconsider(at: now, thresholds: thresholds)
    }

    /// Applies the band to the current average.
    public mutating func reconsider(at now: Timestamp, thresholds: ClassThresholds) {
        let next: JobClass? =
            cpuRatio >= thresholds.upper ? .cpu : cpuRatio <= thresholds.lower ? .io : learnedClass
        if next != learnedClass {
            learnedClass = next
            changedAt = now
        }
    }

    /// A running job of this signature has been seen burning CPU (`ratio` over a long stretch): it is
    /// CPU-bound now, without waiting for it to end. The average takes the sample as one run's worth.
    public mutating func recordWhileRunning(ratio: Double, at now: Timestamp, thresholds: ClassThresholds) {
        record(ratio: ratio, at: now, thresholds: thresholds)
        if learnedClass != .cpu && ratio >= thresholds.upper {
            learnedClass = .cpu
            changedAt = now
        }
    }

    /// The sentence `jobctl show` prints for a job this profile classified.
    public var reason: String {
        if let pinned {
            let whose = ownerUID == nil ? "for everyone " : ""
            return "\(signature) is pinned to \(pinned.rawValue) \(whose)(jobctl profiles pin)"
        }
        let runsText = runs == 1 ? "1 run" : "\(runs) runs"
        return "from \(runsText) of \(signature): \(Self.format(cpuRatio)) CPU-s per wall-s"
    }

    /// A ratio with two decimals, for sentences.
    public static func format(_ ratio: Double) -> String {
        let hundredths = Int(exactly: (min(max(ratio, 0), 1e6) * 100).rounded()) ?? 0
        let fraction = String(hundredths % 100)
        return "\(hundredths / 100).\(fraction.count == 1 ? "0" + fraction : fraction)"
    }
}

/// The band of DESIGN §3: where a signature switches class, and how fast its average moves.
public struct ClassThresholds: Hashable, Sendable {
    /// At or above: `cpu`.
    public var upper: Double
    /// At or below: `io`.
    public var lower: Double
    /// The newest run's weight in the moving average (0 < weight ≤ 1).
    public var weight: Double

    public init(upper: Double = 0.6, lower: Double = 0.3, weight: Double = 0.3) {
        precondition(lower < upper, "the io threshold must be below the cpu threshold")
        self.upper = upper
        self.lower = lower
        self.weight = weight
    }
}
