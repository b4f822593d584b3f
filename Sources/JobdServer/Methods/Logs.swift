import JobdProtocol
import JobdRunners

extension Responder {
    /// Sends output from an offset, both streams or one; with `follow` (and `more`), keeps sending until the
    /// job has finished.
    /// Stops at the first failed send, or as soon as `isConnectionOpen` says the client has gone: a job
    /// that writes nothing for an hour must not keep a follow polling for a client that left.
    func logs(
        _ parameters: Logs.Parameters, more: Bool, caller: Caller, isConnectionOpen: @escaping @Sendable () -> Bool,
        send: @escaping Send
    ) async throws {
        let job = try await authorizedJob(parameters.id, caller: caller)
        guard (parameters.offset ?? 0) >= 0 else { throw JobdError.invalidParameter("offset") }
        let path = OutputLog.path(of: job.id, in: configuration.logsDirectory)
        let indexPath = OutputIndex.path(of: job.id, in: configuration.logsDirectory)
        var offset = parameters.offset ?? 0
        var indexOffset: Int64 = 0  // one stream's follower scans only the index's new records
        let follow = parameters.follow == true && more
        defer { if follow { followers?.stopFollowing(job.id) } }
        /// What one turn of the loop leaves to do.
        enum Next { case done, readMore, waitForOutput }
        while true {
            // The generation first, then activity, then the files: a write or an end after these reads wakes
            // the wait below, and output written before the job ended is always seen.
            let seen = followers?.generation(of: job.id) ?? 0
            let active = await isUnfinished(job.id)
            // Read, built and sent holding one of the caller's reply slots: a chunk of control bytes is six
            // times its size as JSON (found in review, issue 18).
            let next = try await replySlots.withSlot(for: caller.uid) { () async throws -> Next in
                let start = offset
                let bytes: [UInt8]
                var atEnd: Bool
                if let stream = parameters.stream {
                    let chunk = OutputIndex.read(
                        stream, log: path, index: indexPath, from: offset, indexFrom: indexOffset, limit: Logs.maximumChunk)
                    (bytes, offset, indexOffset, atEnd) = (chunk.bytes, chunk.next, chunk.nextIndex, chunk.caughtUp)
                } else {
                    let chunk = OutputLog.read(path: path, from: offset, limit: Logs.maximumChunk)
                    bytes = chunk.bytes
                    offset += Int64(chunk.bytes.count)
                    atEnd = offset >= chunk.size
                }
                // A read that moved nothing (the log cannot be read: EIO, a file cut short) counts as the end,
                // or a follower would read again at once, forever.
                if bytes.isEmpty && offset == start { atEnd = true }
                let finished = !active && atEnd
                // The limit holds for the log and its index together (each run of a stream costs a record).
                let kept = OutputLog.size(path: path) + OutputLog.size(path: indexPath)
                let truncated = kept + Int64(OutputIndex.recordSize) > configuration.outputLimitBytes
                let reply = Logs.Reply(
                    text: String(decoding: bytes, as: UTF8.self), offset: offset, finished: finished,
                    truncated: truncated)
                if !follow || finished {
                    try await self.reply(reply, send)
                    return .done
                }
                guard isConnectionOpen() else {
                    logger.debug(
                        "stopped following the output of job \(job.id): its client has gone", metadata: ["job": "\(job.id)"])
                    return .done
                }
                if !bytes.isEmpty { try await self.reply(reply, send, continues: true) }
                return atEnd ? .waitForOutput : .readMore
            }
            switch next {
            case .done: return
            case .readMore: continue
            case .waitForOutput: break
            }
            if let followers {
                // Woken by the log's writes (inotify) and the job's end; the limit only bounds how long a
                // client that went away keeps this call (checked once a second of silence).
                await followers.wait(for: job.id, after: seen, within: .seconds(1))
            } else {
                try await Task.sleep(for: .milliseconds(100))  // no inotify here: the file is polled
            }
        }
    }

    /// Whether a job may still write output: this jobd holds it (no read), or the store says it has not
    /// finished (it waits). A failed read counts as finished: a follow then ends rather than spins.
    private func isUnfinished(_ id: JobID) async -> Bool {
        if await dispatcher.isHeld(id) { return true }
        return (try? await store.job(id))?.state.isFinished == false
    }
}
