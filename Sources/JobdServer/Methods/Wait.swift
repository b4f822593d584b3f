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
        // Registered before the read below, so a job that ends meanwhile is counted by one or the other.
        let (token, held) = await dispatcher.beginWait(ids)
        var prefetched: [JobID: Job] = [:]
        do {
            // Unknown ids fail before any waiting. Jobs this jobd holds have not finished, and their owners
            // are known: only the others are read. A few are read whole at once (the reply, when nothing is
            // left to wait for); many, their owners and which have not finished.
            var unfinished = Set(held.keys)
            let others = ids.filter { held[$0] == nil }
            var owners = held
            if others.count <= Self.prefetchedWaitJobs {
                if !others.isEmpty { prefetched = try await store.jobs(others) }
                for job in prefetched.values {
                    owners[job.id] = job.ownerUID
                    if !job.state.isFinished { unfinished.insert(job.id) }
                }
            } else {
                owners.merge(try await store.owners(others)) { held, _ in held }
                unfinished.formUnion(try await store.unfinished(others))
            }
            // Another user's job is "not found", so ids do not reveal what others run.
            for id in ids where !(owners[id].map(caller.mayAccess(jobOwnedBy:)) ?? false) { throw JobdError.jobNotFound(id) }
            if unfinished.isEmpty {
                await dispatcher.stopWaiting(token)
            } else {
                guard try await dispatcher.awaitEnd(token, finished: ids.filter { !unfinished.contains($0) }) else {
                    throw JobdError.shuttingDown
                }
                // Records read before the wait may have been pruned during it: read every job again, so a
                // pruned one is JobNotFound rather than a record that no longer exists.
                prefetched = [:]
            }
        } catch {
            await dispatcher.stopWaiting(token)
            throw error
        }
        // The reply is built and sent holding one of the caller's reply slots (ReplySlots); the wait above
        // held none.
        try await replySlots.withSlot(for: caller.uid) {
            try await sendWaitReply(ids, prefetched: prefetched, statesOnly: parameters.statesOnly == true, send: send)
        }
    }

    private func sendWaitReply(_ ids: [JobID], prefetched: [JobID: Job], statesOnly: Bool, send: Send) async throws {
        var reply = WireJSON.BoundedArrayReply(key: statesOnly ? "states" : "jobs", limit: configuration.maximumReplyBytes)
        // Jobs are read a batch at a time: memory holds one batch and the bounded reply, never every job
        // of a 100,000-id call at once.
        var start = 0
        while start < ids.count {
            let slice = Array(ids[start..<min(start + reply.suggestedBatch, ids.count)])
            start += slice.count
            let unread = slice.filter { prefetched[$0] == nil }
            let found = unread.isEmpty ? [:] : try await store.jobs(unread)
            for id in slice {
                guard let job = prefetched[id] ?? found[id] else { throw JobdError.jobNotFound(id) }  // pruned meanwhile
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

    /// Up to this many finished jobs of a Wait are read whole before it replies, instead of their owners
    /// first and the jobs after: a few records in memory, one read saved.
    static let prefetchedWaitJobs = 16
}
