import JobdProtocol
import JobdRunners

extension Responder {
    /// Kept counts, never a COUNT(*): cheap however many jobs the database holds.
    func status(caller: Caller) async -> Status.Reply {
        let snapshot = await dispatcher.snapshot()
        let pool = await dispatcher.workers()
        let cpu = (snapshot.counts[.cpu] ?? StateCounts()).executing(in: pool)
        let io = snapshot.counts[.io] ?? StateCounts()
        var total = StateCounts()
        for state in JobState.allCases { total[state] = cpu[state] + io[state] }
        let uptime = ContinuousClock.now - startedAt
        let statuses = pool.workers
        // Which job a worker runs is the owner's business (and root's): another user sees the worker busy.
        let owners = caller.isRoot ? [:] : await dispatcher.owners(of: statuses.compactMap(\.jobID))
        let workers = statuses.map {
            let visible = caller.isRoot || $0.jobID.flatMap { owners[$0] } == caller.uid
            return WorkerInfo(
                slot: $0.slot, pid: $0.pid, state: $0.state.rawValue, jobID: visible ? $0.jobID : nil,
                queued: $0.queued, jobsRun: $0.jobsRun, rssBytes: $0.rssBytes)
        }
        return Status.Reply(
            version: JobdInterface.version, pid: SystemInfo.processID,
            uptimeSeconds: uptime.inSeconds,
            total: total, cpu: cpu, io: io, cpuLimit: snapshot.limits.cpuSlots, ioLimit: snapshot.limits.ioSlots,
            database: configuration.databasePath, finishedSinceStart: snapshot.finishedSinceStart,
            workers: workers,
            // Which queues others' jobs run in is their business; limits and pauses an operator set are not.
            queues: caller.isRoot ? snapshot.queues : snapshot.queues.filter { $0.limit != nil || $0.paused },
            paused: snapshot.paused)
    }
}

extension StateCounts {
    /// The CPU counts as users see them: running means its process runs, so a job handed to a worker that
    /// has not begun it is queued. The pool and the dispatcher are read one after the other, and a job's
    /// end reaches the pool before the dispatcher's count: never more running than workers execute (a job
    /// just ending or just handed over shows as queued for that moment, as it is neither yet). `status` and
    /// systemd's status line both show these.
    func executing(in pool: PoolStatus) -> StateCounts {
        var counts = self
        let held = min(pool.notExecuting, running)
        let shown = min(running - held, pool.executing ?? running)
        counts.queued += running - shown
        counts.running = shown
        return counts
    }
}
