import JobdProtocol

extension Responder {
    /// Replies when every listed job has finished (committed): how each ended (`states_only`), or their
    /// final records, in a reply never past `--max-reply-bytes`.
    func wait(_ parameters: Wait.Parameters, caller: Caller, send: Send) async throws {
        // Duplicates collapse before anything else: one id sent 100,000 times is one lookup, one waiter
        // and one element of the reply, not 100,000 copies of a job.
        var seen = Set<JobID>()
        let ids = parameters.ids.filter { seen.insert($0).inserted }
        guard !ids.isEmpty, ids.count <= JobLimits.maximumWaitIDs else { throw JobdError.invalidParameter("ids") }
        try await authorize(ids, caller: caller)  // unknown ids fail before any waiting
        guard await dispatcher.waitUntilFinished(ids) else { throw JobdError.shuttingDown }
        let statesOnly = parameters.statesOnly == true
        var reply = WireJSON.BoundedArrayReply(key: statesOnly ? "states" : "jobs", limit: configuration.maximumReplyBytes)
        // Jobs are read a batch at a time: memory holds one batch and the bounded reply, never every job
        // of a 100,000-id call at once.
        var start = 0
        while start < ids.count {
            let slice = Array(ids[start..<min(start + reply.suggestedBatch, ids.count)])
            start += slice.count
            let found = try await store.jobs(slice)
            for id in slice {
                guard let job = found[id] else { throw JobdError.jobNotFound(id) }  // pruned meanwhile
                guard try statesOnly ? reply.append(JobEnd(job)) : reply.append(job) else {
                    throw JobdError.replyTooLarge(
                        limit: configuration.maximumReplyBytes,
                        reason: "the \(ids.count) jobs together are larger; call Wait with states_only (as jobctl wait "
                            + "does) and Get the jobs you need, or wait for fewer ids at a time")
                }
            }
        }
        try await send(reply.finish())
    }
}
