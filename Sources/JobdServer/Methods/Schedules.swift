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
        let size = (try? WireJSON.encode(job).count) ?? Int.max
        guard size <= JobLimits.maximumScheduleJobBytes else {
            throw JobdError.invalidJob(
                index: 0,
                reason: "a schedule's job is \(size) bytes of JSON, over \(JobLimits.maximumScheduleJobBytes) "
                    + "(jobd keeps every schedule in memory); its environment is usually the bulk: pass fewer variables")
        }
        let now = WallClock.now()
        // The checks a submit makes; nothing is stored.
        _ = try await admit([job], caller: caller, at: now)
        // Room for it is reserved, not only checked: concurrent adds cannot pass the bound together.
        guard await recurrences.reserve(owner: caller.uid, name: parameters.name) else {
            throw JobdError.invalidParameter("name (you have \(JobLimits.maximumSchedulesPerUser) schedules, the most a user may keep)")
        }
        var schedule = StoredSchedule(
            ownerUID: caller.uid, ownerGID: caller.gid, name: parameters.name, cron: parameters.cron,
            everySeconds: parameters.everySeconds, spec: job, catchUp: parameters.catchUp ?? false, nextDue: now)
        schedule.nextDue = Recurrences.nextDue(of: schedule, after: now)
        do {
            try await store.saveSchedule(schedule, at: now)
        } catch {
            await recurrences.unreserve(owner: caller.uid, name: parameters.name)
            throw JobdError.storageFailed("\(error)")
        }
        await recurrences.added(schedule)
        return AddSchedule.Reply(schedule: schedule.info)
    }

    /// A page of the schedules the caller may see, by owner and name.
    func listSchedules(_ parameters: Schedules.Parameters, caller: Caller) async throws -> Schedules.Reply {
        let limit = parameters.limit ?? Schedules.defaultLimit
        guard (1...Schedules.maximumLimit).contains(limit) else {
            throw JobdError.invalidParameter("limit (1 to \(Schedules.maximumLimit))")
        }
        let after = try parameters.after.map { text in
            guard let cursor = Schedules.parse(cursor: text) else {
                throw JobdError.invalidParameter("after (OWNER_UID/NAME, as a page's next gives it)")
            }
            return cursor
        }
        // From the store, with their jobs: only the page is read (the daemon keeps no schedule's job).
        let page = try await store.schedules(of: caller.isRoot ? nil : caller.uid, after: after, limit: limit)
        let next = page.more ? page.schedules.last.map { Schedules.cursor(owner: $0.ownerUID, name: $0.name) } : nil
        return Schedules.Reply(schedules: page.schedules.map(\.info), next: next)
    }

    func removeSchedule(_ parameters: RemoveSchedule.Parameters, caller: Caller) async throws -> Empty {
        guard let recurrences else { throw JobdError.methodNotImplemented(RemoveSchedule.method) }
        let removed: Bool
        do {
            removed = try await store.removeSchedule(owner: caller.uid, name: parameters.name)
        } catch {
            throw JobdError.storageFailed("\(error)")
        }
        guard removed else { throw JobdError.scheduleNotFound(parameters.name) }
        await recurrences.removed(owner: caller.uid, name: parameters.name)
        return Empty()
    }
}
