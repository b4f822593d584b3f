import JobdProtocol
import JobdRunners
import JobdScheduler
import JobdStore

extension Responder {
    /// Stores a schedule (replacing the caller's of the same name) after checking its job as a submit would.
    func addSchedule(_ parameters: AddSchedule.Parameters, caller: Caller) async throws -> AddSchedule.Reply {
        guard let recurrences else { throw JobdError.methodNotImplemented(AddSchedule.method) }
        guard JobLimits.isValidQueueName(parameters.name) else {
            throw JobdError.invalidParameter("name (1 to 64 bytes of A-Z, a-z, 0-9, '.', '_' or '-')")
        }
        switch (parameters.cron, parameters.everySeconds) {
        case (let cron?, nil):
            do {
                _ = try CronExpression(cron)
            } catch {
                throw JobdError.invalidParameter("cron (\(error.description))")
            }
        case (nil, let every?):
            guard every.isFinite, JobLimits.scheduleEverySeconds.contains(every) else {
                throw JobdError.invalidParameter("every_seconds (from 1 s to a year)")
            }
        default:
            throw JobdError.invalidParameter("cron or every_seconds (exactly one of them)")
        }
        let job = parameters.job
        if job.runAt != nil || job.delaySeconds != nil || job.afterIndex != nil {
            throw JobdError.invalidJob(
                index: 0, reason: "a schedule's job starts at each due time: run_at, delay_seconds and after_index do not apply")
        }
        let now = WallClock.now()
        // The checks a submit makes; nothing is stored, so what admit reserved goes back at once.
        await forgo(try await admit([job], caller: caller, at: now))
        let existing = await recurrences.list(visibleTo: caller.uid)
        if !existing.contains(where: { $0.name == parameters.name }), existing.count >= JobLimits.maximumSchedulesPerUser {
            throw JobdError.invalidParameter("name (you have \(JobLimits.maximumSchedulesPerUser) schedules, the most a user may keep)")
        }
        var schedule = StoredSchedule(
            ownerUID: caller.uid, ownerGID: caller.gid, name: parameters.name, cron: parameters.cron,
            everySeconds: parameters.everySeconds, spec: job, catchUp: parameters.catchUp ?? false, nextDue: now)
        schedule.nextDue = Recurrences.nextDue(of: schedule, after: now)
        do {
            try await store.saveSchedule(schedule, at: now)
        } catch {
            throw JobdError.storageFailed("\(error)")
        }
        await recurrences.added(schedule)
        return AddSchedule.Reply(schedule: schedule.info)
    }

    func listSchedules(caller: Caller) async -> Schedules.Reply {
        Schedules.Reply(schedules: await recurrences?.list(visibleTo: caller.isRoot ? nil : caller.uid).map(\.info) ?? [])
    }

    func removeSchedule(_ parameters: RemoveSchedule.Parameters, caller: Caller) async throws -> Empty {
        guard let recurrences else { throw JobdError.methodNotImplemented(RemoveSchedule.method) }
        let removed: Bool
        do {
            removed = try await store.removeSchedule(owner: caller.uid, name: parameters.name)
        } catch {
            throw JobdError.storageFailed("\(error)")
        }
        guard removed else { throw JobdError.invalidParameter("name (you have no schedule \(parameters.name))") }
        await recurrences.removed(owner: caller.uid, name: parameters.name)
        return Empty()
    }
}
