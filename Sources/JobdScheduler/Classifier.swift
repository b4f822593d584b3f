import JobdProtocol

/// Decides a new job's class by the rules of DESIGN §3, in order, and says which rule decided and why.
///
/// Today two rules exist: the submitter's hint, and the default. Handler classes and learned profiles
/// slot in between (issues 4 and 5).
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

    public func classify(_ spec: JobSpec) -> Decision {
        if let hint = spec.class {
            return Decision(class: hint, source: .hint, reason: "the submitter asked for --\(hint.rawValue)")
        }
        return Decision(
            class: defaultClass, source: .default,
            reason: "no hint and nothing learned yet, so the default class")
    }
}
