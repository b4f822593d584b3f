import JobdProtocol

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
        if await dispatcher.isShuttingDown { throw JobdError.shuttingDown }
        let queued: Job?
        do {
            queued = try await store.retry(job.id)
        } catch {
            throw JobdError.storageFailed("\(error)")
        }
        // Nil: it changed meanwhile (another retry came first).
        guard let queued else { throw JobdError.jobFinished(job.id, try await authorizedJob(job.id, caller: caller).state) }
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
