import JobdProtocol
import JobdStore

extension Responder {
    /// A page of jobs, newest first; a user sees only their own, root sees all.
    ///
    /// **A page never passes `--max-reply-bytes`**: it ends early, with `next_before_id` set, at the job
    /// that would pass it, so a client pages on as it would after `limit` jobs. Jobs are read a batch at
    /// a time, so a page of 10,000 large jobs is never held in memory whole.
    func list(_ parameters: List.Parameters, caller: Caller, send: Send) async throws {
        let limit = parameters.limit ?? List.defaultLimit
        guard (1...List.maximumLimit).contains(limit) else { throw JobdError.invalidParameter("limit") }
        // Duplicates collapse: 100,000 repeats of a state are one SQL parameter, not 100,000.
        let states = parameters.states.map { Array(Set($0)) }
        var reply = WireJSON.BoundedArrayReply(key: "jobs", limit: configuration.maximumReplyBytes)
        var cursor = parameters.beforeID
        var remaining = limit
        var lastSent: JobID?
        var next: JobID?
        pages: while true {
            let filter = JobFilter(
                states: states, queue: parameters.queue, beforeID: cursor, limit: min(remaining, reply.suggestedBatch),
                ownerUID: caller.isRoot ? nil : caller.uid)
            let (jobs, more) = try await store.jobs(matching: filter)
            for job in jobs {
                guard try reply.append(job) else {
                    guard let lastSent else {
                        throw JobdError.replyTooLarge(
                            limit: configuration.maximumReplyBytes,
                            reason: "job \(job.id) alone is larger; jobd must run with a larger --max-reply-bytes to send it")
                    }
                    next = lastSent  // the page is full in bytes: the client continues after the last job sent
                    break pages
                }
                lastSent = job.id
            }
            remaining -= jobs.count
            guard more else { break }  // nothing older matches
            guard remaining > 0 else {
                next = lastSent
                break
            }
            cursor = jobs.last?.id
        }
        try await send(reply.finish(extra: next.map { "\"next_before_id\":\($0.rawValue)" }))
    }
}
