import ArgumentParser
import Foundation
import JobdProtocol
import JobdRunners
import JobdServer
import JobdStore
import Logging
import ServiceLifecycle

#if canImport(Glibc)
import Glibc
#endif

/// `jobd`: flags, logging, the database lock, and the service group. Everything else is `JobdServer`.
@main
struct JobdCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "jobd",
        abstract: "A durable job queue: stores every job in SQLite, runs CPU work in worker processes and I/O work in the daemon.",
        // One paragraph per line: ArgumentParser wraps each line itself (issue 18: hand-broken lines came
        // out broken mid-sentence).
        usage: """
            jobd [--socket PATH] [--database PATH] [--config PATH] [options]
            jobd --check-config [PATH]
            """,
        discussion: """
            Runs in the foreground and logs to stderr. Stop it with SIGTERM (or Ctrl-C): it stops taking jobs, lets running ones finish within --shutdown-grace, requeues the rest, and exits 0.

            Control it with jobctl, or any varlink client, on the socket.
            """,
        version: JobdInterface.version,
        subcommands: [WorkerCommand.self, RunHandlerCommand.self])

    @Option(help: "The configuration file (TOML; every key is one of these flags without its dashes). Default: /etc/jobd/jobd.toml for root, else $XDG_CONFIG_HOME/jobd/jobd.toml (else ~/.config/jobd/jobd.toml); a missing default file is no error.")
    var config: String?

    @Flag(help: "Check the configuration file (--check-config PATH, or --config, or the default) and exit: 0 when valid, 1 with each error and its line.")
    var checkConfig = false

    @Option(help: "The control socket. Default: $JOBD_SOCKET, else /run/jobd/jobd.sock for root, else $XDG_RUNTIME_DIR/jobd/jobd.sock, else /run/jobd/jobd.sock.")
    var socket: String?

    @Option(help: "The SQLite database. Default: $XDG_STATE_HOME/jobd/jobd.db, else ~/.local/state/jobd/jobd.db.")
    var database: String?

    @Option(help: "I/O-class jobs that may run at once.")
    var ioConcurrency: Int = DaemonConfiguration.defaultIOConcurrency

    @Option(help: "CPU-class jobs that may run at once. Default: the cores jobd may run on.")
    var cpuWorkers: Int?

    @Option(help: "The class of a job no hint, handler or learned profile decides: cpu or io.")
    var defaultClass: String = "cpu"

    @Option(help: "A command whose runs average at least this many CPU-s per wall-s becomes cpu.")
    var cpuThreshold: Double = 0.6

    @Option(help: "A command whose runs average at most this many CPU-s per wall-s becomes io.")
    var ioThreshold: Double = 0.3

    @Option(help: "Seconds of CPU burn above --cpu-threshold after which a running io job's command becomes cpu.")
    var reclassifyAfter: Double = 5

    @Option(help: "Retire a CPU worker after it has run this many jobs (default: never).")
    var workerMaxJobs: Int?

    @Option(help: "Retire a CPU worker whose resident memory passed this size, e.g. 512M or 2G.")
    var workerMaxRss: String = "1G"

    @Option(help: "normal: a commit survives a jobd crash; full: it survives a power cut too (fsync per commit).")
    var durability: String = "normal"

    @Option(help: "Seconds running jobs get to finish at shutdown before they are stopped and requeued.")
    var shutdownGrace: Double = DaemonConfiguration.defaultShutdownGrace.inSeconds

    @Option(help: "Seconds between SIGTERM and SIGKILL when a job is cancelled or times out.")
    var killGrace: Double = DaemonConfiguration.defaultKillGrace.inSeconds

    @Option(help: "Bytes of output kept per job.")
    var outputLimit: Int64 = DaemonConfiguration.defaultOutputLimitBytes

    @Option(help: "Delete finished jobs and their logs this long after they finished: seconds, or 30m, 12h, 7d; 0 keeps them forever.")
    var retention: String = "7d"

    @Option(help: "A shell command line run (sh -c), as a job of jobd's own user, whenever a job ends; the job's JSON is its stdin.")
    var onFinish: String?

    @Option(help: "Largest control message accepted, in bytes.")
    var maxMessageBytes: Int = SocketLocation.defaultMaximumMessageBytes

    @Option(help: "Largest reply sent, in bytes; a List page ends early, any other larger reply is io.jobd.ReplyTooLarge.")
    var maxReplyBytes: Int = DaemonConfiguration.defaultMaximumReplyBytes

    @Option(help: "Connections held at once, all users together; one more is refused with io.jobd.TooManyConnections.")
    var maxConnections: Int = DaemonConfiguration.defaultMaximumConnections

    @Option(help: "Connections one user may hold at once.")
    var maxConnectionsPerUser: Int = DaemonConfiguration.defaultMaximumConnectionsPerUser

    @Option(help: "Seconds a half-sent message may make no progress before its connection is closed.")
    var frameTimeout: Double = DaemonConfiguration.defaultFrameTimeout.inSeconds

    @Option(help: "trace, debug, info, notice, warning, error or critical.")
    var logLevel: String = "info"

    // Hidden: for tests of the refusal; 10 s covers a restart right after a crash (FileLock.acquire).
    @Option(help: .hidden)
    var lockWait: Double = 10

    // MARK: - Start-up

    /// Reads the configuration file before the flags, so a flag wins over the file. ArgumentParser's own
    /// `main` cannot: the file's path is itself a flag, and its keys must be parsed with the flags.
    static func main() async {
        var arguments = Array(CommandLine.arguments.dropFirst())
        // Workers and handler processes are started as /proc/self/exe, which ps and pstree would show as
        // `exe` (issue 18): they name themselves, on the main thread, before anything else.
        switch arguments.first {
        case WorkerCommand.configuration.commandName: SystemInfo.nameProcess("jobd-worker")
        case RunHandlerCommand.configuration.commandName: SystemInfo.nameProcess("jobd-handler")
        default: break
        }
        // `--check-config [PATH]`: an option with an optional value, which ArgumentParser cannot express.
        if let index = arguments.firstIndex(of: "--check-config"), index + 1 < arguments.count,
            !arguments[index + 1].hasPrefix("-")
        {
            arguments[index + 1] = "--config=" + arguments[index + 1]
        }
        do {
            let parsed = try parseAsRoot(arguments)
            guard let flagsOnly = parsed as? JobdCommand else {
                // The worker mode reads no file.
                var command = parsed
                if var command = command as? any AsyncParsableCommand { try await command.run() } else { try command.run() }
                return
            }
            if flagsOnly.checkConfig { Self.exit(withError: flagsOnly.checkConfigurationFile() ? nil : ExitCode(1)) }
            let command: JobdCommand
            do {
                command = try Self.parse(arguments, withFileOf: flagsOnly)
            } catch let rejected as ConfigurationFile.Rejected {
                FileHandle.standardError.write(Data((rejected.description + "\n").utf8))
                Self.exit(withError: ExitCode(1))
            }
            try await command.run()
        } catch {
            Self.exit(withError: error)
        }
    }

    /// The file's settings, then `arguments` (which win).
    static func parse(_ arguments: [String], withFileOf flagsOnly: JobdCommand) throws -> JobdCommand {
        let file = try ConfigurationFile.load(path: flagsOnly.configurationPath, required: flagsOnly.config != nil)
        guard let command = try parseAsRoot(file.arguments + arguments) as? JobdCommand else {
            throw ValidationError("the configuration file selected a subcommand")
        }
        return command
    }

    var configurationPath: String {
        config ?? ConfigurationFile.defaultPath(environment: ProcessEnvironment.current, isRoot: SystemInfo.userID == 0)
    }

    /// `jobd --check-config`: prints each problem with its line; true when the file is valid.
    func checkConfigurationFile() -> Bool {
        // The default file is optional: without one jobd runs on its defaults, and that is valid.
        if config == nil && !FileManager.default.fileExists(atPath: configurationPath) {
            print("\(configurationPath): no file; jobd runs on its defaults")
            return true
        }
        do {
            let file = try ConfigurationFile.load(path: configurationPath, required: true)
            print("\(configurationPath): valid (\(file.arguments.count) settings)")
            return true
        } catch {
            FileHandle.standardError.write(Data((error.description + "\n").utf8))
            return false
        }
    }

    func validate() throws {
        if !(1...DaemonConfiguration.maximumIOConcurrency).contains(ioConcurrency) {
            throw ValidationError("--io-concurrency is 1 to \(DaemonConfiguration.maximumIOConcurrency), got \(ioConcurrency)")
        }
        if maxConnections < 1 || maxConnectionsPerUser < 1 {
            throw ValidationError("--max-connections and --max-connections-per-user must be at least 1")
        }
        if !(frameTimeout > 0 && frameTimeout <= 3600) { throw ValidationError("--frame-timeout is above 0 and at most 3600 seconds") }
        if maxReplyBytes < DaemonConfiguration.minimumMaximumReplyBytes {
            throw ValidationError("--max-reply-bytes must be at least \(DaemonConfiguration.minimumMaximumReplyBytes) (1 MiB)")
        }
        if let cpuWorkers, !(1...1024).contains(cpuWorkers) { throw ValidationError("--cpu-workers is 1 to 1024") }
        if SQLiteStore.Durability(rawValue: durability) == nil { throw ValidationError("--durability is normal or full") }
        if Logger.Level(rawValue: logLevel) == nil { throw ValidationError("unknown --log-level \(logLevel)") }
        if !((0...86_400).contains(shutdownGrace) && (0...86_400).contains(killGrace)) {
            throw ValidationError("--shutdown-grace and --kill-grace are 0 to 86400 seconds")
        }
        if JobClass(rawValue: defaultClass) == nil { throw ValidationError("--default-class is cpu or io") }
        if !(ioThreshold >= 0 && ioThreshold < cpuThreshold) {
            throw ValidationError("--io-threshold must be at least 0 and below --cpu-threshold")
        }
        if !(reclassifyAfter > 0 && reclassifyAfter <= 3600) {
            throw ValidationError("--reclassify-after is above 0 and at most 3600 seconds")
        }
        // A reload applies these at once: a message bound below a call's size would refuse every call,
        // root's included (found in review, issue 19).
        if !(65_536...(64 << 20)).contains(maxMessageBytes) {
            throw ValidationError("--max-message-bytes is 65536 (64 KiB) to 67108864 (64 MiB)")
        }
        if !(0...(1 << 40)).contains(outputLimit) {
            throw ValidationError("--output-limit is 0 (keep no output) to 1099511627776 (1 TiB) bytes")
        }
        if let workerMaxJobs, workerMaxJobs < 1 { throw ValidationError("--worker-max-jobs must be at least 1") }
        if !(lockWait >= 0 && lockWait <= 3600) { throw ValidationError("--lock-wait is 0 to 3600 seconds") }
        if Self.retentionSeconds(retention) == nil {
            throw ValidationError("--retention takes seconds or a duration such as 30m, 12h or 7d (0 keeps jobs forever)")
        }
        if ByteSize.parse(workerMaxRss) == nil {
            throw ValidationError("--worker-max-rss takes a size such as 512M, 2G or 1048576 (bytes)")
        }
    }

    func run() async throws {
        let levelSetting = LogLevelSetting(Logger.Level(rawValue: logLevel) ?? .info)
        let isJournal = ServiceLogHandler.stderrIsJournal(environment: ProcessEnvironment.current)
        LoggingSystem.bootstrap { _ in ServiceLogHandler(setting: levelSetting, isJournal: isJournal) }
        let logger = Logger(label: "jobd")
        switch OpenFileLimit.raiseToHardLimit() {
        case .success(let limit) where limit.now > limit.before:
            logger.info("open file limit raised from \(limit.before) to \(limit.now) (jobs keep \(limit.before))")
        case .success(let limit):
            logger.info("open file limit \(limit.now) (already the hard limit)")
        case .failure(let error):
            logger.warning("\(error); running jobs are limited by it")
        }
        // The database and job logs hold commands, environments and output: private to the daemon's user.
        // A root daemon opens the socket to everyone explicitly and authorises each call from its peer's uid;
        // any other daemon keeps it to its own user (SocketFile.makeConnectable).
        umask(0o077)
        let environment = ProcessEnvironment.current
        let notifier = SystemdNotifier(environment: environment, processID: SystemInfo.processID, logger: logger)
        InheritedDescriptor.unsetEnvironment(SystemdNotifier.environmentVariables)
        let inheritedSocket: Int32?
        do {
            inheritedSocket = try SocketActivation.listeningDescriptor(environment: environment, processID: SystemInfo.processID)
        } catch {
            try await fail(error.description, logger: logger)
        }
        InheritedDescriptor.unsetEnvironment(SocketActivation.environmentVariables)
        var configuration = daemonConfiguration(environment: environment)
        configuration.inheritedSocket = inheritedSocket
        // SIGHUP: the same file and the same flags again; flags still win.
        let arguments = Array(CommandLine.arguments.dropFirst())
        let reloader: ConfigurationLoader = { [self] in
            try Self.parse(arguments, withFileOf: self).daemonConfiguration(environment: ProcessEnvironment.current)
        }

        let daemon: JobdDaemon
        let lock: FileLock
        do {
            // A directory another user can write is refused, as the logs' and the ledger's are (StateDirectory).
            try StateDirectory.prepare(parentOf: configuration.databasePath)
            // Held for the life of the process: two daemons must never write one database.
            let lockPath = configuration.databasePath + ".lock"
            lock = try await FileLock.acquire(path: lockPath, waitingUpTo: .milliseconds(Int64(lockWait * 1000))) {
                holder in
                logger.warning(
                    "\(lockPath) is held by \(holder.map { "pid \($0)" } ?? "another process") (another jobd, or a process a killed jobd started); waiting up to \(lockWait)s for it")
            }
            daemon = try await JobdDaemon.start(
                configuration: configuration, notifier: notifier, reloader: reloader, logLevel: levelSetting, logger: logger)
        } catch let error as FileLockError {
            try await fail(error.description, logger: logger)
        } catch {
            try await fail(String(describing: error), logger: logger)
        }
        let group = ServiceGroup(
            configuration: .init(
                services: await daemon.parts(), gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        try await group.run()
        logger.info("jobd stopped")
        lock.release()
    }

    /// The daemon's configuration from these options.
    func daemonConfiguration(environment: [String: String]) -> DaemonConfiguration {
        var configuration = DaemonConfiguration(
            socketPath: socket ?? SocketLocation.daemonPath(environment: environment, isRoot: SystemInfo.userID == 0),
            databasePath: database ?? SocketLocation.defaultDatabasePath(environment: environment),
            durability: SQLiteStore.Durability(rawValue: durability)!,
            cpuSlots: cpuWorkers ?? SystemInfo.availableCPUs, ioConcurrency: ioConcurrency,
            maximumMessageBytes: maxMessageBytes, outputLimitBytes: outputLimit,
            // Clamped, never a trap: `--kill-grace 1e300` is a mistake to refuse or bound, not a crash.
            killGrace: .seconds(checked: killGrace), shutdownGrace: .seconds(checked: shutdownGrace))

        // The pool adds `--slot` and the kill grace of the moment it starts each worker (a reload changes it).
        configuration.workerCommand = ["/proc/self/exe", "worker", "--worker-log-level", logLevel]
        configuration.maximumReplyBytes = maxReplyBytes
        configuration.maximumConnections = maxConnections
        configuration.maximumConnectionsPerUser = maxConnectionsPerUser
        configuration.frameTimeout = .seconds(checked: frameTimeout)
        configuration.workerMaxJobs = workerMaxJobs
        configuration.defaultClass = JobClass(rawValue: defaultClass)!
        configuration.thresholds = ClassThresholds(upper: cpuThreshold, lower: ioThreshold)
        configuration.reclassifyAfter = .seconds(checked: reclassifyAfter)
        configuration.workerMaxRSSBytes = ByteSize.parse(workerMaxRss)
        configuration.retentionSeconds = Self.retentionSeconds(retention) ?? DaemonConfiguration.defaultRetentionSeconds
        configuration.onFinish = onFinish.flatMap { $0.isEmpty ? nil : $0 }

        configuration.logLevel = Logger.Level(rawValue: logLevel) ?? .info
        return configuration
    }

    /// `--retention` in seconds: a duration, or 0 for "forever". Nil when it is neither.
    static func retentionSeconds(_ text: String) -> Double? {
        DurationText.seconds(text, zero: .allowed)
    }

    private func fail(_ message: String, logger: Logger) async throws -> Never {
        logger.critical("\(message)")
        throw ExitCode(1)
    }
}
