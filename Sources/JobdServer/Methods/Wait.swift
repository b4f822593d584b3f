import JobdProtocol

extension Responder {
    /// Replies when every listed job has finished (committed), with their final records.
    func wait(_ parameters: Wait.Parameters, caller: Caller) async throws -> Wait.Reply {
        guard !parameters.ids.isEmpty else { throw JobdError.invalidParameter("ids") }
        for id in parameters.ids {
            _ = try await authorizedJob(id, caller: caller)  // unknown ids fail before any waiting
        }
        var jobs: [Job] = []
        for id in parameters.ids {
            await dispatcher.waitUntilFinished(id)
            jobs.append(try await authorizedJob(id, caller: caller))
        }
        return Wait.Reply(jobs: jobs)
    }
}
