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
    /// Moving average of CPU demand: (CPU seconds + seconds runnable but waiting for a CPU) per wall
    /// second. **The class follows this one**: it stays near 1 for a CPU-bound job however many others
    /// share the cores, where `cpuRatio` falls to cores/jobs (issue 10).
    public var demandRatio: Double
    /// The learned class; nil while the evidence sits between the thresholds and never crossed one.
    public var learnedClass: JobClass?
    /// When `learnedClass` last changed.
    public var changedAt: Timestamp?
    /// Set by `jobctl profiles pin`: wins over what was learned.
    public var pinned: JobClass?

    public init(
        ownerUID: UInt32? = nil, signature: String, runs: Int = 0, cpuRatio: Double = 0, demandRatio: Double? = nil, learnedClass: JobClass? = nil,
        changedAt: Timestamp? = nil, pinned: JobClass? = nil
    ) {
        self.ownerUID = ownerUID
        self.signature = signature
        self.runs = runs
        self.cpuRatio = cpuRatio
        self.demandRatio = demandRatio ?? cpuRatio
        self.learnedClass = learnedClass
        self.changedAt = changedAt
        self.pinned = pinned
    }

    enum CodingKeys: String, CodingKey {
        case signature, runs, pinned
        case ownerUID = "owner_uid"
        case cpuRatio = "cpu_ratio"
        case demandRatio = "demand_ratio"
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
        try c.encode(demandRatio, forKey: .demandRatio)
        try c.encode(learnedClass, forKey: .learnedClass)
        try c.encode(changedAt, forKey: .changedAt)
        try c.encode(pinned, forKey: .pinned)
    }

    /// The class jobs of this signature get, if the profile decides one.
    public var effectiveClass: JobClass? { pinned ?? learnedClass }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        ownerUID = try c.decodeIfPresent(UInt32.self, forKey: .ownerUID)
        signature = try c.decode(String.self, forKey: .signature)
        runs = try c.decode(Int.self, forKey: .runs)
        cpuRatio = try c.decode(Double.self, forKey: .cpuRatio)
        // A daemon from before issue 10 sends none: its ratio was the only measure.
        demandRatio = try c.decodeIfPresent(Double.self, forKey: .demandRatio) ?? cpuRatio
        learnedClass = try c.decodeIfPresent(JobClass.self, forKey: .learnedClass)
        changedAt = try c.decodeIfPresent(Timestamp.self, forKey: .changedAt)
        pinned = try c.decodeIfPresent(JobClass.self, forKey: .pinned)
    }

    /// Adds one finished run's ratios: `ratio`, CPU per wall second, and `demand`, (CPU + run-queue
    /// wait) per wall second (nil where the wait is not measured: then the CPU ratio).
    ///
    /// The average weighs the newest run by `thresholds.weight` (the first run is taken as is), so a
    /// signature follows a real change within a few runs while one odd run moves it only part way.
    /// The class moves only across the band: to `cpu` at or above `upper`, to `io` at or below `lower`;
    /// in between it keeps what it had, so a ratio near one threshold does not flap.
    public mutating func record(ratio: Double, demand: Double? = nil, at now: Timestamp, thresholds: ClassThresholds) {
        // Bounded: a ratio is CPU-s per wall-s, at most the core count; a bogus one must not poison the average.
        func bounded(_ value: Double) -> Double { value.isFinite ? min(max(0, value), 4096) : 0 }
        let ratio = bounded(ratio)
        let demand = bounded(demand ?? ratio)
        cpuRatio = runs == 0 ? ratio : thresholds.weight * ratio + (1 - thresholds.weight) * cpuRatio
        demandRatio = runs == 0 ? demand : thresholds.weight * demand + (1 - thresholds.weight) * demandRatio
        runs += 1
        reconsider(at: now, thresholds: thresholds)
    }

    /// Applies the band to the current average.
    public mutating func reconsider(at now: Timestamp, thresholds: ClassThresholds) {
        let next: JobClass? =
            demandRatio >= thresholds.upper ? .cpu : demandRatio <= thresholds.lower ? .io : learnedClass
        if next != learnedClass {
            learnedClass = next
            changedAt = now
        }
    }

    /// A running job of this signature has been seen demanding CPU (`demand`, CPU + run-queue wait per
    /// wall second, over a long stretch; `ratio` its CPU alone): it is CPU-bound now, without waiting for
    /// it to end. The averages take the sample as one run's worth.
    public mutating func recordWhileRunning(
        ratio: Double, demand: Double? = nil, at now: Timestamp, thresholds: ClassThresholds
    ) {
        record(ratio: ratio, demand: demand, at: now, thresholds: thresholds)
        if learnedClass != .cpu && (demand ?? ratio) >= thresholds.upper {
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
        let cpu = "from \(runsText) of \(signature): \(Self.format(cpuRatio)) CPU-s per wall-s"
        // Said only where it differs: waiting for a CPU is what turned a low CPU ratio into demand.
        guard Self.format(demandRatio) != Self.format(cpuRatio) else { return cpu }
        return cpu + ", \(Self.format(demandRatio)) counting run-queue wait"
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
