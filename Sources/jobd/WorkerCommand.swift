import ArgumentParser
import JobdHandlers
import JobdRunners
import JobdServer
import Logging

/// `jobd worker`: one process of the CPU pool. Started by the daemon, never by hand: it reads `run`
/// frames on stdin and writes reports on stdout (docs/WORKERS.md), so nothing else may print to stdout.
struct WorkerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "worker", abstract: "Run as a CPU worker of a jobd (started by jobd itself).",
        shouldDisplay: false)

    @Option(help: "The pool slot this worker fills, for log lines.")
    var slot: Int = 0

    // Named apart from jobd's own --kill-grace and --log-level: swift-argument-parser gives an option the
    // parent command declares to the parent, even after the subcommand's name, so a worker never saw
    // them and always used 5 s and `info` (found in review, issue 19).
    @Option(help: "Seconds between SIGTERM and SIGKILL when a job is stopped.")
    var workerKillGrace: Double = DaemonConfiguration.defaultKillGrace.inSeconds

    @Option(help: "trace, debug, info, notice, warning, error or critical.")
    var workerLogLevel: String = "info"

    @Option(help: "The daemon's process ledger, where each job's process group is recorded while it runs.")
    var processLedger: String?

    func run() async throws {
        let setting = LogLevelSetting(Logger.Level(rawValue: workerLogLevel) ?? .info)
        // A worker writes to the daemon's stderr: under systemd, the same journal stream.
        let isJournal = ServiceLogHandler.stderrIsJournal(environment: ProcessEnvironment.current)
        LoggingSystem.bootstrap { _ in ServiceLogHandler(setting: setting, isJournal: isJournal) }
        let logger = Logger(label: "jobd.worker.\(slot)")
        try await WorkerMain.run(
            registry: .builtIn, killGrace: Setting(.seconds(checked: workerKillGrace)),
            ledger: processLedger.map(ProcessLedger.init(directory:)), logger: logger)
    }
}
