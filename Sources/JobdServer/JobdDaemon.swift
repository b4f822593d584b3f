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

/// The whole daemon as one `Service`: it owns the store's writer, the dispatcher's job tasks and the
/// listener, all as child tasks of `run()`, so a graceful shutdown reaches every one of them.
///
/// Start-up order matters: recover the database before listening, so a client never sees a job that
/// a dead daemon left `running`; listen before `run()` returns from `start`, so "started" means
/// "accepting calls".
public final class JobdDaemon: Service {
    private let configuration: DaemonConfiguration
    private let store: SQLiteStore
    private let dispatcher: Dispatcher
    private let pool: WorkerPool
    private let profileBook: ProfileBook
    private let listener: VarlinkListener
    private let pruner: Pruner
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
        self.configuration = configuration
        self.logger = logger
        self.store = store
        self.notifier = notifier
        self.reloader = reloader
        self.logLevel = logLevel
        try FileSystem.createDirectory(configuration.logsDirectory)
        // One reactor thread spawns every process, workers included: PDEATHSIG follows the forking thread.
        let reactor = ProcessReactor()
        let environment = ProcessEnvironment.current
        let pool = WorkerPool(
            configuration: WorkerPoolConfiguration(
                size: configuration.cpuSlots, executable: configuration.workerCommand[0],
                arguments: ["jobd"] + configuration.workerCommand.dropFirst(), environment: environment,
                maxJobs: configuration.workerMaxJobs, maxRSSBytes: configuration.workerMaxRSSBytes,
                killGrace: configuration.killGrace),
            reactor: reactor, logger: logger)
        self.pool = pool
        let registry = HandlerRegistry.builtIn
        let profileBook = ProfileBook(
            store: store, profiles: try await store.profiles(), thresholds: configuration.thresholds)
        let runners = Runners(
            pool: pool,
            exec: ExecRunner(reactor: reactor, killGrace: configuration.killGrace, daemonEnvironment: environment),
            handler: HandlerRunner(
                registry: registry, measuresProcessCPU: false, killGrace: configuration.killGrace, output: .logFile))
        let burnWatch = CPUBurnWatch(
            profileBook: profileBook, store: store, window: configuration.reclassifyAfter,
            usage: { reactor.usage(ofGroup: $0) }, logger: logger)
        let dispatcher = Dispatcher(
            store: store, runners: runners, profileBook: profileBook, burnWatch: burnWatch,
            workerStatuses: { await pool.statuses() }, configuration: configuration, counts: startup.counts,
            logger: logger)
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
        await dispatcher.enqueue(startup.ready)
        let responder = Responder(
            dispatcher: dispatcher, store: store, classifier: Classifier(defaultClass: configuration.defaultClass), registry: registry,
            profileBook: profileBook, pruner: pruner, configuration: configuration,
            startedAt: .now, logger: logger)
        self.listener = try await VarlinkListener.bind(
            path: configuration.socketPath, inheritedDescriptor: configuration.inheritedSocket,
            maximumMessageBytes: configuration.maximumMessageBytes,
            limits: ConnectionLimits(
                maximumTotal: configuration.maximumConnections, maximumPerUser: configuration.maximumConnectionsPerUser,
                frameTimeout: configuration.frameTimeout),
            responder: responder, group: MultiThreadedEventLoopGroup.singleton, logger: logger)
        let listening = configuration.inheritedSocket.map { "the socket systemd passed (fd \($0))" } ?? configuration.socketPath
        logger.info(
            "jobd \(JobdInterface.version) listening on \(listening); database \(configuration.databasePath); cpu slots \(configuration.cpuSlots), io concurrency \(configuration.ioConcurrency)")
    }

    /// Serves until a graceful shutdown (SIGTERM/SIGINT): then stops accepting, drains running jobs
    /// (requeueing what does not finish within the grace period), commits, and returns.
    public func run() async throws {
        // The store's committer runs outside the group that is cancelled at the end: `close()` lets it
        // commit what is queued (the outcomes of the jobs the drain stopped), and a cancelled task's commit
        // fails with CancellationError, leaving them `running` in the database.
        await withDiscardingTaskGroup { committing in
        committing.addTask { await self.store.run() }
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await self.dispatcher.run() }
            group.addTask { await self.pool.supervise() }
            group.addTask {
                // Stops at the first sign of shutdown: pruning is never worth delaying a drain for.
                await cancelWhenGracefulShutdown {
                    await self.pruner.run(retentionSeconds: self.configuration.retentionSeconds)
                }
            }
            group.addTask {
                do {
                    try await self.listener.run()
                } catch {
                    self.logger.error("listener stopped: \(error)")
                }
            }
            let reporter = SystemdReporter(notifier: notifier, dispatcher: dispatcher, store: store, logger: logger)
            group.addTask { await reporter.run() }
            // Trapped before READY=1: systemd may send a reload as soon as the unit is active, and SIGHUP's
            // default action would end the daemon.
            let hangups = await UnixSignalsSequence(trapping: .sighup)
            group.addTask { await self.reload(on: hangups) }
            // The database is recovered and the socket listens (since init): connections made from now on
            // are accepted, and those systemd queued while jobd started are in the backlog.
            notifier.ready()
            try? await gracefulShutdown()
            notifier.stopping()
            logger.info("shutting down: no new jobs; running jobs have \(configuration.shutdownGrace) to finish")
            await listener.stopAccepting()
            await dispatcher.drain(grace: configuration.shutdownGrace)
            await listener.finishCalls(within: .milliseconds(500))
            await pool.shutdown()
            store.close()
            // What is left are idle or waiting client connections.
            group.cancelAll()
        }
        }
        logger.info("jobd stopped")
    }

    // MARK: - Reload

    /// Reloads at each SIGHUP until the task is cancelled. A file with an error is rejected whole: the
    /// running configuration stays, and systemd is told the reload is over all the same.
    private func reload(on hangups: UnixSignalsSequence) async {
        var running = configuration
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
        logLevel?.level = configuration.logLevel
        await pool.resize(to: configuration.cpuSlots)
        await dispatcher.setLimits(Limits(
            cpuSlots: max(1, configuration.cpuSlots), ioSlots: max(1, configuration.ioConcurrency),
            cpuPrefetch: max(1, configuration.cpuSlots) * WorkerPool.queuedPerWorker))
        await profileBook.setThresholds(configuration.thresholds)
    }
}
