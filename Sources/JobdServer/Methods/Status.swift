import JobdProtocol
import JobdRunners

extension Responder {
    /// Kept counts, never a COUNT(*): cheap however many jobs the database holds.
    func status() async -> Status.Reply {
        let snapshot = await dispatcher.snapshot()
        let cpu = snapshot.counts[.cpu] ?? StateCounts()
        let io = snapshot.counts[.io] ?? StateCounts()
        var total = StateCounts()
        for state in JobState.allCases { total[state] = cpu[state] + io[state] }
        let uptime = ContinuousClock.now - startedAt
        let workers = await dispatcher.workers().map {
            WorkerInfo(
                slot: $0.slot, pid: $0.pid, state: $0.state.rawValue, jobID: $0.jobID, jobsRun: $0.jobsRun,
                rssBytes: $0.rssBytes)
        }
        return Status.Reply(
            version: JobdInterface.version, pid: SystemInfo.processID,
            uptimeSeconds: uptime.inSeconds,
            total: total, cpu: cpu, io: io, cpuLimit: snapshot.limits.cpuSlots, ioLimit: snapshot.limits.ioSlots,
            database: configuration.databasePath, finishedSinceStart: snapshot.finishedSinceStart,
            workers: workers)
    }
}
