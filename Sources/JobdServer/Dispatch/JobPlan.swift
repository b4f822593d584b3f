import JobdProtocol

/// What the dispatcher keeps in memory for a job that is waiting or running: everything needed to start
/// it, so dispatch never reads the database per job.
struct JobPlan: Sendable {
    var id: JobID
    var `class`: JobClass
    var priority: Int
    var kind: String
    var payload: JSONValue?
    var argv: [String]?
    var env: [String: String]?
    var cwd: String?
    var timeoutSeconds: Double?
    /// Attempts started before the next one.
    var attempts: Int
    var maxAttempts: Int
    var ownerUID: UInt32
    var ownerGID: UInt32

    init(_ job: Job) {
        id = job.id
        `class` = job.class
        priority = job.priority
        kind = job.kind
        payload = job.payload
        argv = job.argv
        env = job.env
        cwd = job.cwd
        timeoutSeconds = job.timeoutSeconds
        attempts = job.attempts
        maxAttempts = job.maxAttempts
        ownerUID = job.ownerUID
        ownerGID = job.ownerGID
    }

    init(id: JobID, spec: JobSpec, class: JobClass, ownerUID: UInt32, ownerGID: UInt32) {
        self.id = id
        self.class = `class`
        priority = spec.priority ?? 0
        kind = spec.resolvedKind
        payload = spec.payload
        argv = spec.argv
        env = spec.env
        cwd = spec.cwd
        timeoutSeconds = spec.timeoutSeconds
        attempts = 0
        maxAttempts = spec.maxAttempts ?? 1
        self.ownerUID = ownerUID
        self.ownerGID = ownerGID
    }
}
