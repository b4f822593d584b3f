import JobdProtocol

extension JobID {
    /// The key under which ``OutputFollowers`` counts "some job changed", for `io.jobd.Watch` (no job has
    /// id 0).
    static let anyJob = JobID(rawValue: 0)
}

extension Responder {
    /// `io.jobd.Watch`: the status and the recent transitions, again each time jobs change, at most four
    /// times a second, until the client goes away or the daemon stops.
    func watch(
        more: Bool, caller: Caller, isConnectionOpen: @escaping @Sendable () -> Bool, send: @escaping Send
    ) async throws {
        var last: Watch.Reply?
        while true {
            let seen = transitions?.generation(of: .anyJob) ?? 0
            let reply = Watch.Reply(
                status: await status(caller: caller),
                recent: await dispatcher.recentTransitions(visibleTo: caller.isRoot ? nil : caller.uid))
            guard more else {
                try await self.reply(reply, send)
                return
            }
            if await dispatcher.isShuttingDown {
                try await self.reply(reply, send)  // the last frame ends the stream
                return
            }
            // Only the counts and transitions are news; uptime alone does not make a frame.
            var comparable = reply
            comparable.status.uptimeSeconds = 0
            if comparable != last { try await self.reply(reply, send, continues: true) }
            last = comparable
            guard isConnectionOpen() else { return }
            try await Task.sleep(for: .milliseconds(250))  // at most four frames a second
            if let transitions {
                await transitions.wait(for: .anyJob, after: seen, within: .seconds(1))
            }
        }
    }
}
