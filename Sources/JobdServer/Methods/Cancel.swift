import JobdProtocol

extension Responder {
    /// Cancels a waiting job at once; for a running one, replies once its process group is gone.
    func cancel(_ parameters: Cancel.Parameters, caller: Caller) async throws -> Cancel.Reply {
        let job = try await authorizedJob(parameters.id, caller: caller)
        switch try await dispatcher.cancel(job.id) {
        case .cancelledWaiting:
            break
        case .stopping:
            guard try await dispatcher.waitUntilFinished([job.id]) else { throw JobdError.shuttingDown }
        case .notActive:
            // Not waiting nor running: it finished before the cancel arrived.
            let now = try await authorizedJob(job.id, caller: caller)
            throw JobdError.jobFinished(job.id, now.state)
        }
        return Cancel.Reply(job: try await authorizedJob(job.id, caller: caller))
    }
}
