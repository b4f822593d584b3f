import JobdProtocol

extension Responder {
    /// Replies when every listed job has finished (committed), with their final records.
    func wait(_ parameters: Wait.Parameters, caller: Caller) async throws -> Wait.Reply {
        guard !parameters.ids.isEmpty else { throw JobdError.invalidParameter("ids") }
        try await authorize(parameters.ids, caller: caller)  // unknown ids fail before any waiting
        guard await dispatcher.waitUntilFinished(parameters.ids) else { throw JobdError.shuttingDown }
        let found = try await store.jobs(parameters.ids)
        return Wait.Reply(jobs: try parameters.ids.map { id in
            guard let job = found[id] else { throw JobdError.jobNotFound(id) }  // pruned meanwhile
            return job
        })
    }
}
