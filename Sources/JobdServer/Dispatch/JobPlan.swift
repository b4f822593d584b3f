import JobdProtocol
import JobdRunners

/// What the dispatcher keeps in memory for a job that is waiting or running: its attempt, built once
/// from the stored job, and what deciding about its outcome needs. Dispatch never reads the database
/// for a job whose plan is kept.
struct JobPlan: Sendable {
    var attempt: Attempt
    var `class`: JobClass
    var priority: Int
    /// Attempts started before the next one.
    var attempts: Int
    var maxAttempts: Int
    var backoff: Backoff
    var backoffSeconds: Double
    var ownerUID: UInt32
    /// What this job's runs teach (nil for jobs stored before profiles existed).
    var signature: String?
    var classReason: String?
    /// It has an `on_success` or `on_failure` of its own.
    var hasHooks = false
    /// When it was submitted: its due time again after a failed attempt with no pause (nil: not read).
    var createdAt: Timestamp?

    var id: JobID { attempt.job }

    /// The attempt to start now, under the output limit of this moment (a reload changes it). The limit
    /// holds for the job's whole log: a later attempt gets what the earlier ones left. A first attempt
    /// has no log yet, and needs no stat.
    func startingAttempt(outputLimit limit: Int64) -> Attempt {
        var next = attempt
        next.outputLimit = attempts > 0 ? OutputLog.room(path: attempt.outputPath, limit: limit) : limit
        return next
    }

    init(_ job: Job, logsDirectory: String, outputLimit: Int64) {
        attempt = Attempt(job, logsDirectory: logsDirectory, outputLimit: outputLimit)
        `class` = job.class
        priority = job.priority
        attempts = job.attempts
        maxAttempts = job.maxAttempts
        backoff = job.backoff
        backoffSeconds = job.backoffSeconds
        ownerUID = job.ownerUID
        signature = job.signature
        classReason = job.classReason
        hasHooks = job.onSuccess != nil || job.onFailure != nil
        createdAt = job.createdAt
    }

    /// A plan with nothing to run, for recording an attempt that could not start.
    init(unreadable id: JobID, class: JobClass, priority: Int, ownerUID: UInt32) {
        attempt = Attempt(job: id, work: .exec(argv: []), outputPath: "/dev/null", outputLimit: 0)
        self.class = `class`
        self.priority = priority
        attempts = 0
        maxAttempts = 1
        backoff = .fixed
        backoffSeconds = 0
        self.ownerUID = ownerUID
    }
}
