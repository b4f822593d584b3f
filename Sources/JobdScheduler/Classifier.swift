import JobdProtocol

/// Decides a new job's class by the rules of DESIGN §3, in order, and says which rule decided and why.
///
/// The rules, in order: the submitter's hint, the handler's declared class, the learned (or pinned)
/// profile of the job's signature, the default.
public struct Classifier: Sendable {
    /// The class of a job no rule decides.
    public var defaultClass: JobClass

    public init(defaultClass: JobClass = .cpu) {
        self.defaultClass = defaultClass
    }

    /// The decision for one job.
    public struct Decision: Hashable, Sendable {
        public var `class`: JobClass
        public var source: ClassSource
        /// The sentence `jobctl show` prints.
        public var reason: String
    }

    /// - Parameters:
    ///   - declaredClass: the class the job's handler declares, if it declares one.
    ///   - profile: what was learned about the job's signature, if anything.
    public func classify(_ spec: JobSpec, declaredClass: JobClass?, profile: Profile? = nil) -> Decision {
        if let hint = spec.class {
            return Decision(class: hint, source: .hint, reason: "the submitter asked for --\(hint.rawValue)")
        }
        if let declaredClass {
            return Decision(
                class: declaredClass, source: .kind,
                reason: "the \(spec.resolvedKind) handler declares \(declaredClass.rawValue)")
        }
        if let profile, let learned = profile.effectiveClass {
            return Decision(class: learned, source: .learned, reason: profile.reason)
        }
        let evidence =
            profile.map {
                // The band applies to the demand; the CPU ratio is said too when waiting made them differ.
                let cpu = Profile.format($0.cpuRatio)
                let demand = Profile.format($0.demandRatio)
                let ratios = demand == cpu ? "\(cpu) CPU-s per wall-s" : "\(cpu) CPU-s per wall-s, \(demand) counting run-queue wait"
                return "\($0.runs) runs of \($0.signature) average \(ratios), between the thresholds"
            }
            ?? "nothing learned yet"
        return Decision(
            class: defaultClass, source: .default,
            reason: "no hint and \(evidence), so the default class")
    }
}
