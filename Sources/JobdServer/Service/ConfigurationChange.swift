import JobdScheduler

/// What a reload changes, sorted into what applies at once and what waits for a restart. Pure: the
/// daemon applies `live` and logs both.
struct ConfigurationChange {
    /// Settings applied while jobd runs: CPU workers, I/O concurrency, class thresholds, log level.
    var live: [String] = []
    /// Settings read only at start-up (the socket, the database, …): kept as they are, and logged.
    var needsRestart: [String] = []

    init(from old: DaemonConfiguration, to new: DaemonConfiguration) {
        func compare<T: Equatable>(_ name: String, _ path: KeyPath<DaemonConfiguration, T>, live isLive: Bool) {
            guard old[keyPath: path] != new[keyPath: path] else { return }
            let text = "\(name) \(old[keyPath: path]) -> \(new[keyPath: path])"
            if isLive { live.append(text) } else { needsRestart.append(text) }
        }
        compare("cpu-workers", \.cpuSlots, live: true)
        compare("io-concurrency", \.ioConcurrency, live: true)
        compare("cpu-threshold", \.thresholds.upper, live: true)
        compare("io-threshold", \.thresholds.lower, live: true)
        compare("log-level", \.logLevel, live: true)
        compare("socket", \.socketPath, live: false)
        compare("database", \.databasePath, live: false)
        compare("durability", \.durability, live: false)
        compare("max-message-bytes", \.maximumMessageBytes, live: false)
        compare("max-reply-bytes", \.maximumReplyBytes, live: false)
        compare("max-connections", \.maximumConnections, live: false)
        compare("max-connections-per-user", \.maximumConnectionsPerUser, live: false)
        compare("frame-timeout", \.frameTimeout, live: false)
        compare("output-limit", \.outputLimitBytes, live: false)
        compare("kill-grace", \.killGrace, live: false)
        compare("shutdown-grace", \.shutdownGrace, live: false)
        compare("default-class", \.defaultClass, live: false)
        compare("reclassify-after", \.reclassifyAfter, live: false)
        compare("worker-max-jobs", \.workerMaxJobs, live: false)
        compare("worker-max-rss", \.workerMaxRSSBytes, live: false)
        // The pruner takes it when it starts (JobdDaemon.run).
        compare("retention", \.retentionSeconds, live: false)
    }

    /// The configuration to run with: `new` for what applies live, `old` for the rest.
    static func applied(_ old: DaemonConfiguration, _ new: DaemonConfiguration) -> DaemonConfiguration {
        var result = old
        result.cpuSlots = new.cpuSlots
        result.ioConcurrency = new.ioConcurrency
        result.thresholds = new.thresholds
        result.logLevel = new.logLevel
        return result
    }
}
