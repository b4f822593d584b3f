/// The `io.jobd` varlink interface: the contract `docs/PROTOCOL.md` explains and every client relies on.
///
/// Served verbatim by `org.varlink.service.GetInterfaceDescription`. Keep it in step with the Swift types in
/// `Methods/` and `Job/`; `JobdProtocolTests` checks that every method here has a handler.
public enum JobdInterface {
    public static let name = "io.jobd"
    /// The version `Ping`, `GetInfo` and `jobd --version` report.
    public static let version = "0.1.0"

    public static let definition = """
        # jobd: a durable job queue. Every job is stored in SQLite before Submit replies,
        # classified as CPU- or I/O-bound, and run in a worker process or in the daemon.
        interface io.jobd

        type JobState (scheduled, queued, running, succeeded, failed, dead, cancelled)

        type JobClass (cpu, io)

        type ClassSource (hint, kind, learned, default)

        # How the pause before a retry grows: exp doubles it (with jitter, capped at an hour), fixed keeps it.
        type Backoff (exp, fixed)

        # What to run. An exec job has argv (no shell); a handler job has a kind and a payload.
        type JobSpec (
          kind: ?string,
          argv: ?[]string,
          env: ?[string]string,
          cwd: ?string,
          payload: ?object,
          name: ?string,
          queue: ?string,
          class: ?JobClass,
          priority: ?int,
          timeout_seconds: ?float,
          max_attempts: ?int,
          # Not before this time (RFC 3339 UTC), or this many seconds after the submit; not both.
          run_at: ?string,
          delay_seconds: ?float,
          backoff: ?Backoff,
          backoff_seconds: ?float,
          # While an unfinished job of the caller has this key, Submit returns its id instead.
          unique_key: ?string,
          # Jobs that must all succeed first: by id, or by index among this call's earlier jobs.
          after: ?[]int,
          after_index: ?[]int,
          # A shell command line (sh -c) run as a job of its own, by the same owner, when this job
          # succeeds / fails or ends dead; its stdin is this job's JSON.
          on_success: ?string,
          on_failure: ?string
        )

        # A job and what its runs left. Times are RFC 3339 UTC strings.
        type Job (
          id: int,
          name: ?string,
          state: JobState,
          kind: string,
          argv: ?[]string,
          env: ?[string]string,
          cwd: ?string,
          payload: ?object,
          queue: string,
          class: JobClass,
          class_source: ClassSource,
          class_reason: ?string,
          signature: ?string,
          priority: int,
          attempts: int,
          max_attempts: int,
          run_at: ?string,
          backoff: Backoff,
          backoff_seconds: float,
          on_success: ?string,
          on_failure: ?string,
          hook_of: ?int,
          timeout_seconds: ?float,
          owner_uid: int,
          owner_gid: int,
          created_at: string,
          started_at: ?string,
          finished_at: ?string,
          exit_code: ?int,
          signal: ?int,
          error: ?string,
          result: ?object,
          wall_seconds: ?float,
          cpu_seconds: ?float,
          cpu_user_seconds: ?float,
          cpu_system_seconds: ?float,
          max_rss_bytes: ?int,
          worker_pid: ?int,
          wait_seconds: ?float
        )

        type StateCounts (
          scheduled: int,
          queued: int,
          running: int,
          succeeded: int,
          failed: int,
          dead: int,
          cancelled: int
        )

        # Stores the jobs in one transaction and replies after it has committed.
        # Any invalid job fails the whole call with InvalidJob, and nothing is stored.
        # existing: those of ids that were already there (a unique_key held by an unfinished job).
        method Submit(jobs: []JobSpec) -> (ids: []int, existing: ?[]int)

        # One job.
        method Get(id: int) -> (job: Job, waits_for: ?[]int)

        # Jobs, newest first. Pass next_before_id as before_id for the next page. A page ends early,
        # with next_before_id, where it would pass the daemon's reply byte limit.
        method List(states: ?[]JobState, queue: ?string, before_id: ?int, limit: ?int) -> (
          jobs: []Job,
          next_before_id: ?int
        )

        # Cancels a job; a running one has its whole process group killed.
        method Cancel(id: int) -> (job: Job)

        # How a job ended: its id, final state, and exit code (null if it did not exit).
        type JobEnd (
          id: int,
          state: JobState,
          exit_code: ?int
        )

        # Replies when every job listed has finished. A repeated id counts once; at most 100000 ids.
        # With states_only, the reply is states (how each ended) instead of whole jobs.
        method Wait(ids: []int, states_only: ?bool) -> (jobs: ?[]Job, states: ?[]JobEnd)

        # Captured output from a byte offset of the interleaved log: both streams in the order read, or
        # only stdout or stderr. With follow and more, streams until the job finishes.
        method Logs(id: int, offset: ?int, follow: ?bool, stream: ?(stdout, stderr)) -> (text: string, offset: int, finished: bool, truncated: bool)

        # Queues a failed, dead or cancelled job again for one more attempt; its history is kept.
        method Retry(id: int) -> (job: Job)

        # One attempt of a job: when it ran and how it ended (the latest may be running).
        type AttemptRecord (
          number: int,
          started_at: ?string,
          finished_at: ?string,
          exit_code: ?int,
          signal: ?int,
          error: ?string,
          wall_seconds: ?float,
          cpu_user_seconds: ?float,
          cpu_system_seconds: ?float,
          max_rss_bytes: ?int,
          worker_pid: ?int,
          wait_seconds: ?float
        )

        # Every attempt of a job, first to latest.
        method Attempts(id: int) -> (attempts: []AttemptRecord)

        # Deletes finished jobs and their logs: those that finished at least older_than_seconds ago
        # (absent: 0, every one), in states (finished ones only; absent: all four). A user prunes
        # only their own jobs; root prunes everyone's.
        method Prune(older_than_seconds: ?float, states: ?[]JobState) -> (pruned: int)

        # One CPU worker process. state: starting, idle, busy or retiring. job_id: the job it runs;
        # queued: jobs handed to it that wait behind that one (queued, not running).
        type WorkerInfo (
          slot: int,
          pid: ?int,
          state: string,
          job_id: ?int,
          queued: int,
          jobs_run: int,
          rss_bytes: ?int
        )

        # Counts by state and class, limits, uptime and the CPU workers.
        method Status() -> (
          version: string,
          pid: int,
          uptime_seconds: float,
          total: StateCounts,
          cpu: StateCounts,
          io: StateCounts,
          cpu_limit: int,
          io_limit: int,
          database: string,
          finished_since_start: int,
          workers: []WorkerInfo,
          queues: []QueueInfo,
          paused: []string
        )

        # A recurring job. Exactly one of cron (five fields, local time) and every_seconds.
        type ScheduleInfo (
          name: string,
          owner_uid: int,
          cron: ?string,
          every_seconds: ?float,
          catch_up: bool,
          next_due: string,
          last_fired: ?string,
          last_job_id: ?int,
          job: JobSpec
        )

        # Submits job, as the caller, at every due time; replaces the caller's schedule of that name.
        # catch_up: after jobd was down over due times, run the job once at start-up (default: skip them).
        method AddSchedule(name: string, cron: ?string, every_seconds: ?float, catch_up: ?bool, job: JobSpec) -> (
          schedule: ScheduleInfo
        )

        # The caller's schedules (root: everyone's).
        # A page of schedules by owner and name; pass the reply's next as after for the following one.
        method Schedules(after: ?string, limit: ?int) -> (schedules: []ScheduleInfo, next: ?string)

        # The caller's schedule stops firing; the jobs it submitted stay.
        method RemoveSchedule(name: string) -> ()

        # A job moving to a state.
        type JobTransition (id: int, state: JobState, class: JobClass, at: string)

        # With more: the status and the latest transitions (the caller's jobs; root: all), again whenever
        # jobs change or the throughput (jobs finished per second over the last 10 s) does, at most four
        # times a second. jobctl watch draws from it.
        method Watch() -> (status: object, recent: []JobTransition, throughput: ?float)

        # A queue with a limit, a pause, or a job running.
        type QueueInfo (name: string, limit: ?int, paused: bool, running: int)

        # At most limit jobs of the queue run at once, whatever their class; null removes the limit.
        # Root or the daemon's user only.
        method SetQueueLimit(queue: string, limit: ?int) -> ()

        # Nothing new of the queue, the class, or (all) anything starts; running jobs go on. Exactly one
        # target. Kept across restarts. Root or the daemon's user only.
        method Pause(queue: ?string, class: ?JobClass, all: ?bool) -> ()

        # Undoes a Pause of the same target.
        method Resume(queue: ?string, class: ?JobClass, all: ?bool) -> ()

        # What jobd learned about one signature from one user's runs (docs/CLASSIFICATION.md).
        # owner_uid: whose runs taught it; null for a pin that applies to everyone.
        # class: learned, null while undecided.
        type Profile (
          owner_uid: ?int,
          signature: string,
          runs: int,
          cpu_ratio: float,
          demand_ratio: float,
          class: ?JobClass,
          changed_at: ?string,
          pinned: ?JobClass
        )

        # The caller's own profiles and the pins for everyone (root: every user's), most recently changed first.
        method Profiles() -> (profiles: []Profile)

        # Forgets one of the caller's signatures (everyone: the pin for everyone; root or the daemon's user).
        method ResetProfile(signature: string, everyone: ?bool) -> ()

        # Pins one of the caller's signatures to a class (null unpins); with everyone, for every user
        # (root or the daemon's user only).
        method PinProfile(signature: string, class: ?JobClass, everyone: ?bool) -> (profile: Profile)

        # The cheapest round trip.
        method Ping() -> (version: string)

        # No job has this id, or it belongs to another user.
        error JobNotFound (id: int)

        # No profile has this signature.
        error ProfileNotFound (signature: string)

        # The caller has no schedule of that name.
        error ScheduleNotFound (name: string)

        # The job has already finished.
        error JobFinished (id: int, state: JobState)

        # The job at index (from 0) of a Submit is invalid; nothing was stored.
        error InvalidJob (index: int, reason: string)

        # The caller may not do this.
        error PermissionDenied (reason: string)

        # The daemon is stopping and takes no new work.
        error ShuttingDown ()

        # The reply would pass the daemon's byte limit; reason says how to ask instead
        # (List with a smaller limit, or Wait with states_only).
        error ReplyTooLarge (limit: int, reason: string)

        # The connection was refused: the daemon, or this user, holds as many connections as it allows.
        # Sent once, unasked, before the daemon closes it.
        error TooManyConnections (reason: string)

        # The database refused the write (for example, the disk is full) or could not be read; nothing was stored.
        error StorageFailed (reason: string)

        """

    /// Every `io.jobd` method, for dispatch tables and tests.
    public static let methods: [String] = [
        Submit.method, Get.method, List.method, Cancel.method, Wait.method, Logs.method, Status.method, Ping.method,
        Profiles.method, ResetProfile.method, PinProfile.method, Prune.method, Retry.method, Attempts.method,
        SetQueueLimit.method, Pause.method, Resume.method, AddSchedule.method, Schedules.method, RemoveSchedule.method,
        Watch.method,
    ]
}
