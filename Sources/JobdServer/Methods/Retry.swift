import JobdProtocol
import JobdRunners
import JobdStore

extension Responder {
    /// Queues a failed, dead or cancelled job again, for one more attempt than it has used.
    func retry(_ parameters: Retry.Parameters, caller: Caller) async throws -> Retry.Reply {
        let job = try await authorizedJob(parameters.id, caller: caller)
        guard job.state == .failed || job.state == .dead || job.state == .cancelled else {
            if job.state == .succeeded {
                throw JobdError.jobFinished(job.id, job.state)  // nothing to retry; submit it again
            }
            throw JobdError.invalidParameter("id (job \(job.id) is \(job.state.rawValue); only a failed, dead or cancelled job is retried)")
        }
        if job.attempts >= JobLimits.maxAttemptsRange.upperBound {
            throw JobdError.invalidParameter(
                "id (job \(job.id) has used \(job.attempts) attempts, the most a job may have; submit it again)")
        }
        if await dispatcher.isShuttingDown { throw JobdError.shuttingDown }
        if await dispatcher.isHeld(job.id) {
            throw JobdError.storageFailed("job \(job.id) is ending right now; try the retry again in a moment")
        }
        let result: RetryResult
        do {
            result = try await store.retry(job.id, at: WallClock.now())
        } catch {
            throw JobdError.storageFailed("\(error)")
        }
        let queued: Job
        switch result {
        case .queued(let job): queued = job
        case .notRetryable:  // it changed meanwhile (another retry came first)
            throw JobdError.jobFinished(job.id, try await authorizedJob(job.id, caller: caller).state)
        case .keyHeld(let holder):
            throw JobdError.invalidParameter("id (job \(holder) holds its unique key and has not finished)")
        }
        await dispatcher.retried(queued, was: job.state)
        return Retry.Reply(job: queued)
    }

    /// Every attempt of a job the caller may see.
    func attempts(_ parameters: Attempts.Parameters, caller: Caller) async throws -> Attempts.Reply {
        let job = try await authorizedJob(parameters.id, caller: caller)
        do {
            return Attempts.Reply(attempts: try await store.attempts(of: job.id))
        } catch {
            throw JobdError.storageFailed("\(error)")
        }
    }
}
