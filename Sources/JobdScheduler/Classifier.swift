import JobdProtocol

/// Decides a new job's class by the rules of DESIGN §3, in order, and says which rule decided and why.
///
/// Today three rules exist: the submitter's hint, the handler's declared class, and the default. Learned
/// profiles slot in before the default (issue 5).
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

    /// - Parameter declaredClass: the class the job's handler declares, if it declares one.
    public func classify(_ spec: JobSpec, declaredClass: JobClass?) -> Decision {
        if let hint = spec.class {
            return Decision(class: hint, source: .hint, reason: "the submitter asked for --\(hint.rawValue)")
        }
        if let declaredClass {
            return Decision(
                class: declaredClass, source: .kind,
                reason: "the \(spec.resolvedKind) handler declares \(declaredClass.rawValue)")
        }
        return Decision(
            class: defaultClass, source: .default,
            reason: "no hint and nothing learned yet, so the default class")
    }
}
