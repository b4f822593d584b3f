import JobdScheduler

/// What a reload changes, sorted into what applies at once and what waits for a restart. Pure: the
/// daemon applies `live` and logs both.
struct ConfigurationChange {
    /// Settings applied while jobd runs, each from the moment it next applies: CPU workers, I/O
    /// concurrency, class thresholds and the log level at once; a stop's kill grace when the stop comes
    /// (a CPU worker takes it when it starts); a job's output limit when the job starts; connection
    /// limits, the frame timeout and the message size for connections accepted after the reload; the
    /// retention at the pruner's next round; the shutdown grace at the next stop.
    var live: [String] = []
    /// Settings read only at start-up (the socket, the database, …): kept as they are, and logged.
    var needsRestart: [String] = []

    init(from old: DaemonConfiguration, to new: DaemonConfiguration) {
        live = Self.liveSettings.compactMap { $0.change(old, new) }
        needsRestart = Self.restartSettings.compactMap { $0.change(old, new) }
    }

    /// The configuration to run with: `new` for what applies live, `old` for the rest.
    static func applied(_ old: DaemonConfiguration, _ new: DaemonConfiguration) -> DaemonConfiguration {
        var result = old
        for setting in liveSettings { setting.copy(new, &result) }
        return result
    }

    /// What a reload applies while jobd runs, by the name of its flag: the one list of them.
    private static let liveSettings: [Entry] = [
        Entry("cpu-workers", \.cpuSlots), Entry("io-concurrency", \.ioConcurrency),
        Entry("cpu-threshold", \.thresholds.upper), Entry("io-threshold", \.thresholds.lower),
        Entry("log-level", \.logLevel), Entry("kill-grace", \.killGrace), Entry("shutdown-grace", \.shutdownGrace),
        Entry("output-limit", \.outputLimitBytes), Entry("max-connections", \.maximumConnections),
        Entry("max-connections-per-user", \.maximumConnectionsPerUser), Entry("frame-timeout", \.frameTimeout),
        Entry("max-message-bytes", \.maximumMessageBytes), Entry("retention", \.retentionSeconds),
    ]

    /// What only a restart applies: read once at start-up (the socket, the database), or built into what
    /// starts with the daemon (the classifier, the worker pool's recycling, the replies' bound).
    private static let restartSettings: [Entry] = [
        Entry("socket", \.socketPath), Entry("database", \.databasePath), Entry("durability", \.durability),
        Entry("max-reply-bytes", \.maximumReplyBytes), Entry("default-class", \.defaultClass),
        Entry("reclassify-after", \.reclassifyAfter), Entry("worker-max-jobs", \.workerMaxJobs),
        Entry("worker-max-rss", \.workerMaxRSSBytes), Entry("on-finish", \.onFinish),
    ]

    /// One setting: how to tell its change ("name old -> new") and how to copy it.
    private struct Entry: Sendable {
        let change: @Sendable (DaemonConfiguration, DaemonConfiguration) -> String?
        let copy: @Sendable (DaemonConfiguration, inout DaemonConfiguration) -> Void

        init<T: Equatable & Sendable>(_ name: String, _ path: any WritableKeyPath<DaemonConfiguration, T> & Sendable) {
            change = { old, new in
                old[keyPath: path] == new[keyPath: path] ? nil : "\(name) \(old[keyPath: path]) -> \(new[keyPath: path])"
            }
            copy = { from, to in to[keyPath: path] = from[keyPath: path] }
        }
    }
}
