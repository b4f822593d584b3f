import JobdProtocol

extension JobID {
    /// The key under which ``OutputFollowers`` counts "some job changed", for `io.jobd.Watch` (no job has
    /// id 0).
    static let anyJob = JobID(rawValue: 0)
}

extension Responder {
    /// `io.jobd.Watch`: the status and the recent transitions, again each time jobs change or the
    /// throughput does, at most four times a second, until the client goes away or the daemon stops.
    func watch(
        more: Bool, caller: Caller, isConnectionOpen: @escaping @Sendable () -> Bool, send: @escaping Send
    ) async throws {
        var last: Watch.Reply?
        var lastSent = ContinuousClock.now
        var throughput = ThroughputWindow(seconds: Watch.throughputWindowSeconds)
        while true {
            let seen = transitions?.generation(of: .anyJob) ?? 0
            let status = await status(caller: caller)
            let reply = Watch.Reply(
                status: status, recent: await dispatcher.recentTransitions(visibleTo: caller.isRoot ? nil : caller.uid),
                throughput: throughput.add(finished: status.finishedSinceStart, at: .now))
            guard more else {
                try await self.reply(reply, send)
                return
            }
            if await dispatcher.isShuttingDown {
                try await self.reply(reply, send)  // the last frame ends the stream
                return
            }
            // The counts, the transitions and the throughput are news; uptime and the workers' resident
            // sizes (which move all the time, and which the view does not show) make a frame only every
            // ``Watch/quietFrameInterval``, so a quiet view's clock still moves and a client sees the daemon
            // is there. The loop wakes at least once a second, so a throughput falls to 0 once jobs stop
            // finishing.
            var comparable = reply
            comparable.status.uptimeSeconds = 0
            for index in comparable.status.workers.indices { comparable.status.workers[index].rssBytes = nil }
            if comparable != last || ContinuousClock.now - lastSent >= Watch.quietFrameInterval {
                try await self.reply(reply, send, continues: true)
                lastSent = .now
            }
            last = comparable
            guard isConnectionOpen() else { return }
            try await Task.sleep(for: .milliseconds(250))  // at most four frames a second
            if let transitions {
                await transitions.wait(for: .anyJob, after: seen, within: .seconds(1))
            }
        }
    }
}

/// Jobs finished per second over a sliding window, from samples of the finished count as a `Watch` stream
/// takes them (at least one a second, at most four): at most `4 × seconds + 1` samples are kept.
struct ThroughputWindow {
    private let window: Duration
    private var samples: [(at: ContinuousClock.Instant, finished: Int64)] = []

    init(seconds: Int) { window = .seconds(seconds) }

    /// Adds a sample. - Returns: the rate over the window so far, rounded to 0.1 (so a frame is news only
    /// when the figure shown moves), or nil for the first sample.
    mutating func add(finished: Int64, at now: ContinuousClock.Instant) -> Double? {
        samples.append((now, finished))
        while let first = samples.first, now - first.at > window { samples.removeFirst() }
        guard let first = samples.first, now > first.at else { return nil }
        // Over a second at least: one job finishing a quarter second into the stream is not "4 jobs/s".
        let rate = Double(finished &- first.finished) / max(1, (now - first.at).inSeconds)
        return max(0, (rate * 10).rounded() / 10)
    }
}
