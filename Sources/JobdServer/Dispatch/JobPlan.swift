import JobdProtocol
import JobdStore

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
    /// What this job's runs teach (nil for jobs stored before profiles existed).
    var signature: String?
    var classReason: String?

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
        signature = job.signature
        classReason = job.classReason
    }

    /// A plan with nothing to run, for recording an attempt that could not start.
    init(id: JobID, class: JobClass, priority: Int, ownerUID: UInt32) {
        self.id = id
        self.class = `class`
        self.priority = priority
        kind = "exec"
        attempts = 0
        maxAttempts = 1
        self.ownerUID = ownerUID
        ownerGID = 0
    }

    init(id: JobID, _ job: NewJob) {
        let spec = job.spec
        self.id = id
        self.class = job.class
        priority = spec.priority ?? 0
        kind = spec.resolvedKind
        payload = spec.payload
        argv = spec.argv
        env = spec.env
        cwd = spec.cwd
        timeoutSeconds = spec.timeoutSeconds
        attempts = 0
        maxAttempts = spec.maxAttempts ?? 1
        ownerUID = job.ownerUID
        ownerGID = job.ownerGID
        signature = job.signature
        classReason = job.classReason
    }
}
