import JobdHandlers
import JobdProtocol
import JobdRunners
import JobdScheduler
import JobdStore
import Logging
import NIOCore
import NIOPosix
import ServiceLifecycle
import UnixSignals

/// The whole daemon: it builds the store, the runners, the dispatcher and the listener, and hands them
/// out as the parts (``parts()``) that jobd's `ServiceGroup` runs and shuts down in order.
///
/// Start-up order matters: recover the database before listening, so a client never sees a job that
/// a dead daemon left `running`; listen before `run()` returns from `start`, so "started" means
/// "accepting calls".
public final class JobdDaemon: Sendable {
    /// The running configuration, shared with the parts that read a live setting at the moment it
    /// applies; a reload changes its live settings (``ConfigurationChange``).
    private let configuration: Setting<DaemonConfiguration>
    /// `configuration.killGrace`, for the runners and the pool, which know no daemon configuration; a
    /// reload sets both.
    private let killGrace: Setting<Duration>
    /// Rung at each reload: the pruner takes a changed retention at once.
    private let reloaded = Doorbell()
    private let store: SQLiteStore
    private let dispatcher: Dispatcher
    private let pool: WorkerPool
    private let profileBook: ProfileBook
    private let listener: VarlinkListener
    private let pruner: Pruner
    private let recurrences: Recurrences
    /// Keeps the inotify watch on the logs directory alive; nil when inotify is unavailable.
    private let logWatch: DirectoryWatch?
    private let responder: Responder
    /// The schedules found at start-up; the schedules part starts firing them once the store writes.
    private let storedSchedules: [StoredSchedule]
    private let logger: Logger
    private let notifier: SystemdNotifier
    private let reloader: ConfigurationLoader?
    private let logLevel: LogLevelSetting?

    /// Opens the database, recovers it, and binds the socket.
    /// - Parameter notifier: where to tell systemd about readiness, status and stopping (disabled when
    ///   jobd was not started by systemd).
    /// - Parameter reloader: reads the configuration again at SIGHUP; nil: SIGHUP is ignored.
    /// - Parameter logLevel: the level every logger shares, which a reload changes.
    /// - Throws: `StoreError`, a socket problem (another jobd serves it), or a bind error.
    public static func start(
        configuration: DaemonConfiguration, notifier: SystemdNotifier, reloader: ConfigurationLoader? = nil,
        logLevel: LogLevelSetting? = nil, logger: Logger
    ) async throws -> JobdDaemon {
        // Before anything can run again: what the jobs of a jobd that died left running goes first, so no
        // job's next attempt runs beside its last one.
        try StateDirectory.prepare(configuration.processesDirectory)
        _ = ProcessLedger.killLeftovers(in: configuration.processesDirectory, logger: logger)
        let store = try SQLiteStore(path: configuration.databasePath, durability: configuration.durability, logger: logger)
        let startup = try await store.recover(at: WallClock.now())
        return try await JobdDaemon(
            configuration: configuration, store: store, startup: startup, notifier: notifier, reloader: reloader,
            logLevel: logLevel, logger: logger)
    }

    private init(
        configuration: DaemonConfiguration, store: SQLiteStore, startup: StartupState, notifier: SystemdNotifier,
        reloader: ConfigurationLoader?, logLevel: LogLevelSetting?, logger: Logger
    ) async throws {
        let running = Setting(configuration)
        let killGrace = Setting(configuration.killGrace)
        self.configuration = running
        self.killGrace = killGrace
        self.logger = logger
        self.store = store
        self.notifier = notifier
        self.reloader = reloader
        self.logLevel = logLevel
        try StateDirectory.prepare(configuration.logsDirectory)
        let reactor = ProcessReactor(ledger: ProcessLedger(directory: configuration.processesDirectory))
        let environment = ProcessEnvironment.current
        let pool = WorkerPool(
            configuration: WorkerPoolConfiguration(
                size: configuration.cpuSlots, executable: configuration.workerCommand[0],
                arguments: ["jobd"] + configuration.workerCommand.dropFirst()
                    + ["--process-ledger", configuration.processesDirectory],
                environment: environment,
                maxJobs: configuration.workerMaxJobs, maxRSSBytes: configuration.workerMaxRSSBytes,
                killGrace: killGrace),
            reactor: reactor, logger: logger)
        self.pool = pool
        let registry = HandlerRegistry.builtIn
        let profileBook = ProfileBook(
            store: store, profiles: try await store.profiles(), thresholds: configuration.thresholds)
        let runners = Runners(
            pool: pool,
            exec: ExecRunner(reactor: reactor, killGrace: killGrace, daemonEnvironment: environment),
            handler: HandlerRunner(
                registry: registry, measuresProcessCPU: false, killGrace: killGrace, output: .logFile),
            handlerProcess: HandlerProcessRunner(
                reactor: reactor, executable: configuration.workerCommand[0], killGrace: killGrace),
            registry: registry)
        let burnWatch = CPUBurnWatch(
            profileBook: profileBook, store: store, window: configuration.reclassifyAfter,
            usage: { reactor.usage(ofGroup: $0) }, logger: logger)
        let followers = OutputFollowers()
        let transitions = OutputFollowers()
        let dispatcher = Dispatcher(
            store: store, runners: runners, profileBook: profileBook, burnWatch: burnWatch,
            workerStatuses: { await pool.statuses() }, configuration: running, counts: startup.counts,
            logger: logger, finished: { followers.changed($0) },
            hooks: Hooks(
                store: store, logsDirectory: configuration.logsDirectory, onFinish: configuration.onFinish, logger: logger,
                now: WallClock.now),
            transitioned: { transitions.changed(.anyJob) })
        // A job's log is `<id>.log` (OutputLog.path): a write to it wakes the job's followers.
        self.logWatch = DirectoryWatch(directory: configuration.logsDirectory) { name in
            guard name.hasSuffix(".log"), let id = Int64(name.dropLast(4)), id > 0 else { return }
            followers.changed(JobID(rawValue: id))
        }
        if logWatch == nil { logger.warning("inotify is unavailable: logs --follow polls each job's log instead") }
        self.dispatcher = dispatcher
        self.profileBook = profileBook
        let pruner = Pruner(
            store: store, dispatcher: dispatcher, logsDirectory: configuration.logsDirectory, logger: logger)
        self.pruner = pruner
        if !startup.requeued.isEmpty {
            let ids = startup.requeued.map(\.description).joined(separator: ", ")
            logger.warning("requeued \(startup.requeued.count) jobs left running by a jobd that stopped: \(ids)")
        }
        if !startup.poisoned.isEmpty {
            let ids = startup.poisoned.map(\.description).joined(separator: ", ")
            logger.error(
                "jobs \(ids) were running at each of the last \(SQLiteStore.uncleanStopsBeforeDead) unclean stops of jobd; they end dead and do not run again")
        }
        // For `status`; the claims read them from the store. Waiting jobs are not read: they are claimed.
        await dispatcher.apply(try await store.schedulingControls())
        let recurrences = Recurrences(store: store, logger: logger)
        self.recurrences = recurrences
        let responder = Responder(
            dispatcher: dispatcher, store: store, classifier: Classifier(defaultClass: configuration.defaultClass), registry: registry,
            profileBook: profileBook, pruner: pruner, configuration: running,
            startedAt: .now, logger: logger, recurrences: recurrences, followers: logWatch == nil ? nil : followers,
            transitions: transitions)
        self.responder = responder
        self.storedSchedules = try await store.scheduleTimings()
        self.listener = try await VarlinkListener.bind(
            path: configuration.socketPath, inheritedDescriptor: configuration.inheritedSocket,
            configuration: running, responder: responder, group: MultiThreadedEventLoopGroup.singleton, logger: logger)
        let listening = configuration.inheritedSocket.map { "the socket systemd passed (fd \($0))" } ?? configuration.socketPath
        logger.info(
            "jobd \(JobdInterface.version) listening on \(listening); database \(configuration.databasePath); cpu slots \(configuration.cpuSlots), io concurrency \(configuration.ioConcurrency)")
    }

    /// The daemon's parts, in the order they start; a graceful shutdown (SIGTERM/SIGINT) stops them in
    /// reverse: stop accepting connections, stop reloading and reporting, drain the running jobs
    /// (requeueing what does not finish within the grace period), flush the replies to waiting clients and
    /// close their connections, retire the workers, commit the last writes. Run them in one `ServiceGroup`.
    ///
    /// Call it once: it traps SIGHUP and tells systemd the daemon is ready, since the database is recovered
    /// and the socket listens (connections made from now on wait in the backlog until the parts run).
    public func parts() async -> [ServiceGroupConfiguration.ServiceConfiguration] {
        // Trapped before READY=1: systemd may send a reload as soon as the unit is active, and SIGHUP's
        // default action would end the daemon.
        let hangups = await UnixSignalsSequence(trapping: .sighup)
        let reporter = SystemdReporter(notifier: notifier, dispatcher: dispatcher, store: store, logger: logger)
        let parts = [
            DaemonPart("store writer", ending: .bodyReturnsAfterStop, body: { await self.store.run() }, stop: { self.store.close() }),
            DaemonPart("worker pool", ending: .bodyReturnsAfterStop, body: { await self.pool.supervise() }, stop: { await self.pool.shutdown() }),
            DaemonPart(
                "connections", ending: .cancelBodyAfterStop,
                body: {
                    do {
                        try await self.listener.run()
                    } catch {
                        self.logger.error("listener stopped: \(error)")
                    }
                },
                // Only now, after the drain, does the socket go: during the drain a call is answered (a
                // submit with ShuttingDown), not refused as if no jobd ran (issue 18). The drain has just
                // answered every waiting client; those replies must reach the wire.
                stop: {
                    await self.listener.stopAccepting()
                    await self.listener.finishCalls(within: .milliseconds(500))
                }),
            DaemonPart(
                "dispatcher", ending: .bodyReturnsAfterStop, body: { await self.dispatcher.run() },
                stop: { await self.dispatcher.drain(grace: self.configuration.shutdownGrace) }),
            // Pruning is never worth delaying a drain for: it stops before the drain begins.
            DaemonPart("pruner", ending: .cancelBodyAfterStop, body: {
                await self.pruner.run(retention: { self.configuration.retentionSeconds }, reloaded: self.reloaded)
            }),
            // Started with the others, so a catch-up firing finds the store's writer running.
            DaemonPart(
                "schedules", ending: .cancelBodyAfterStop,
                body: {
                    await self.recurrences.start(with: self.responder, schedules: self.storedSchedules, at: WallClock.now())
                },
                stop: { await self.recurrences.stop() }),
            DaemonPart("systemd reporter", ending: .cancelBodyAfterStop, body: { await reporter.run() }),
            DaemonPart("reload", ending: .cancelBodyAfterStop, body: { await self.reload(on: hangups) }),
            DaemonPart(
                "acceptor", ending: .bodyReturnsAfterStop, body: {},
                stop: {
                    self.notifier.stopping()
                    self.logger.info(
                        "shutting down: no new jobs; running jobs have \(self.configuration.shutdownGrace) to finish")
                    // Submits are refused (ShuttingDown) from now on; the socket still answers everything else.
                    await self.dispatcher.stopTakingJobs()
                    await self.recurrences.stop()  // nothing new from schedules either, from now on
                }),
        ]
        notifier.ready()
        // A part that ends early (no systemd to report to, retention off) is no reason to stop the others.
        return parts.map { .init(service: $0, successTerminationBehavior: .ignore) }
    }

    // MARK: - Reload

    /// Reloads at each SIGHUP until the task is cancelled. A file with an error is rejected whole: the
    /// running configuration stays, and systemd is told the reload is over all the same.
    private func reload(on hangups: UnixSignalsSequence) async {
        var running = configuration.value
        for await _ in hangups {
            guard let reloader else {
                logger.notice("SIGHUP: no configuration to reload")
                continue
            }
            notifier.reloading()
            defer { notifier.ready() }
            let new: DaemonConfiguration
            do {
                new = try reloader()
            } catch {
                logger.error("reload rejected; the running configuration stays:\n\(error)")
                continue
            }
            let change = ConfigurationChange(from: running, to: new)
            running = ConfigurationChange.applied(running, new)
            await apply(running)
            if change.live.isEmpty && change.needsRestart.isEmpty {
                logger.notice("reloaded: nothing changed")
            }
            if !change.live.isEmpty { logger.notice("reloaded: \(change.live.joined(separator: ", "))") }
            if !change.needsRestart.isEmpty {
                logger.warning(
                    "reload: \(change.needsRestart.joined(separator: ", ")) needs a restart; the old value stays until then")
            }
        }
    }

    private func apply(_ configuration: DaemonConfiguration) async {
        self.configuration.value = configuration
        killGrace.value = configuration.killGrace
        logLevel?.level = configuration.logLevel
        await pool.resize(to: configuration.cpuSlots)
        await dispatcher.setLimits(configuration.limits)
        await profileBook.setThresholds(configuration.thresholds)
        reloaded.ring()
    }
}
