import Foundation
import JobdClient
import JobdVarlinkNIO
import JobdProtocol

/// The real `jobd` binary on a temp socket and database, for integration tests.
///
/// `DaemonProcess.with { daemon in ... }` starts it, waits until its socket answers, runs the body, and
/// always stops it afterwards (SIGTERM, then SIGKILL) and removes its directory.
public final class DaemonProcess: @unchecked Sendable {
    public let directory: TempDirectory
    public let arguments: [String]
    /// Shell commands run before `exec jobd` (e.g. `ulimit -Sn 1024`), or nil to launch jobd directly.
    public let shellSetup: String?
    /// Variables added to the daemon's environment (changeable before a launch).
    public var environment: [String: String]
    /// A command that runs jobd (e.g. `systemd-socket-activate -l PATH`), or empty to launch it directly.
    public let wrapper: [String]
    private(set) var process: Process
    public var socket: String { directory.file("jobd.sock") }
    public var database: String { directory.file("jobd.db") }
    public var logFile: String { directory.file("jobd.log") }

    private init(
        directory: TempDirectory, arguments: [String], shellSetup: String? = nil, environment: [String: String] = [:],
        wrapper: [String] = []
    ) throws {
        self.wrapper = wrapper
        self.directory = directory
        self.arguments = arguments
        self.shellSetup = shellSetup
        self.environment = environment
        self.process = Process()
    }

    /// Starts a daemon, runs `body`, stops the daemon and removes its files, whatever `body` does.
    /// - Parameters:
    ///   - shellSetup: shell commands `/bin/sh` runs before it execs jobd (same pid), e.g. `ulimit -Sn 1024`.
    ///   - environment: variables added to the daemon's environment.
    ///   - wrapper: a command jobd runs under (its argv ends before jobd's); `{directory}` in it becomes
    ///     the daemon's temp directory.
    ///   - launched: false to leave the launch to `body` (e.g. to watch what happens before it answers).
    public static func with<R>(
        arguments: [String] = [], shellSetup: String? = nil, environment: [String: String] = [:],
        wrapper: [String] = [], launched: Bool = true,
        _ body: (DaemonProcess) async throws -> R
    ) async throws -> R {
        let directory = try TempDirectory()
        let daemon = try DaemonProcess(
            directory: directory, arguments: arguments, shellSetup: shellSetup, environment: environment,
            wrapper: wrapper.map { $0.replacingOccurrences(of: "{directory}", with: directory.path) })
        do {
            if launched { try await daemon.start() }
            let result = try await body(daemon)
            daemon.stopNow()
            daemon.directory.remove()
            return result
        } catch {
            daemon.stopNow()
            let log = (try? String(contentsOfFile: daemon.logFile, encoding: .utf8)) ?? ""
            daemon.directory.remove()
            throw DaemonTestFailure(underlying: error, daemonLog: log)
        }
    }

    /// Launches `jobd` (again, after a stop) on the same socket and database, and waits until it answers.
    public func start(extraArguments: [String] = []) async throws {
        try launch(extraArguments: extraArguments)
        try await eventually("jobd answers on \(socket)") { () -> Bool? in
            guard process.isRunning else { throw TimedOut("jobd exited with \(process.terminationStatus): \(log)") }
            return try await ping() ? true : nil
        }
    }

    /// Launches `jobd` without waiting for it (for tests of start-up refusals).
    public func launch(extraArguments: [String] = []) throws {
        let process = Process()
        // Short graces keep stops quick; a test that sets them in a configuration file (`--config`) gets
        // none here, since a flag wins over the file.
        let graces = arguments.contains("--config") ? [] : ["--shutdown-grace", "1", "--kill-grace", "1"]
        var command = [Binaries.jobd, "--socket", socket, "--database", database] + graces + arguments + extraArguments
        if let shellSetup {
            command = ["/bin/sh", "-c", shellSetup + "; exec \"$0\" \"$@\""] + command
        }
        command = wrapper + command
        process.executableURL = URL(fileURLWithPath: command[0])
        process.arguments = Array(command.dropFirst())
        if !environment.isEmpty {
            process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        }
        if !FileManager.default.fileExists(atPath: logFile) {
            _ = FileManager.default.createFile(atPath: logFile, contents: nil)
        }
        let log = try FileHandle(forWritingTo: URL(fileURLWithPath: logFile))
        log.seekToEndOfFile()
        process.standardError = log
        process.standardOutput = log
        try process.run()
        self.process = process
    }

    /// Everything the daemon has logged so far.
    public var log: String { (try? String(contentsOfFile: logFile, encoding: .utf8)) ?? "" }

    /// The daemon's pid.
    public var pid: Int32 { process.processIdentifier }

    /// Whether the daemon process is still running.
    public var isRunning: Bool { process.isRunning }

    /// Its exit status, once it has exited.
    public var exitStatus: Int32 { process.terminationStatus }

    private func ping() async throws -> Bool {
        do {
            _ = try await JobdConnection.withConnection(path: socket) { connection in
                try await connection.call(Ping.method, Ping.Parameters(), returning: Ping.Reply.self)
            }
            return true
        } catch ClientError.daemonUnreachable {
            return false
        }
    }

    /// SIGTERM, then waits for the exit; returns the exit status.
    @discardableResult
    public func terminate(within limit: Duration = .seconds(10)) async throws -> Int32 {
        kill(process.processIdentifier, SIGTERM)
        return try await waitForExit(within: limit)
    }

    /// SIGKILL: the crash the daemon must survive.
    public func killHard() async throws {
        kill(process.processIdentifier, SIGKILL)
        _ = try await waitForExit()
    }

    /// Waits until the daemon has exited; returns its status.
    public func waitForExit(within limit: Duration = .seconds(5)) async throws -> Int32 {
        try await eventually("jobd exits", within: limit) { process.isRunning ? nil : true }
        return process.terminationStatus
    }

    private func stopNow() {
        guard process.isRunning else { return }
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
    }

    // MARK: - Clients

    /// Runs the real `jobctl` against this daemon.
    public func jobctl(_ arguments: String..., input: String? = nil) async throws -> CommandResult {
        try await jobctl(arguments, input: input)
    }

    public func jobctl(_ arguments: [String], input: String? = nil) async throws -> CommandResult {
        var environment = ProcessInfo.processInfo.environment
        environment["JOBD_SOCKET"] = socket
        return try await runProgram(Binaries.jobctl, arguments, environment: environment, input: input)
    }

    /// Opens a client connection for the body.
    public func connect<R: Sendable>(_ body: (JobdConnection) async throws -> R) async throws -> R {
        try await JobdConnection.withConnection(path: socket, body)
    }

    /// One job's record.
    public func job(_ id: JobID) async throws -> Job {
        try await connect { try await $0.call(Get.method, Get.Parameters(id: id), returning: Get.Reply.self).job }
    }

    /// Submits jobs over the protocol; returns their ids.
    public func submit(_ specs: [JobSpec]) async throws -> [JobID] {
        try await connect {
            try await $0.call(Submit.method, Submit.Parameters(jobs: specs), returning: Submit.Reply.self).ids
        }
    }

    /// Waits (in the daemon) for jobs to finish, for at most `limit`; returns their records.
    public func wait(_ ids: [JobID], within limit: Duration = .seconds(30)) async throws -> [Job] {
        let socket = socket
        return try await withDeadline("jobs \(ids) finishing", within: limit) {
            try await JobdConnection.withConnection(path: socket) {
                try await $0.call(Wait.method, Wait.Parameters(ids: ids), returning: Wait.Reply.self).jobs
            }
        }
    }

    /// The daemon's status.
    public func status() async throws -> Status.Reply {
        try await connect { try await $0.call(Status.method, Status.Parameters(), returning: Status.Reply.self) }
    }
}

/// A test failed while a daemon ran; carries the daemon's log so the failure explains itself.
public struct DaemonTestFailure: Error, CustomStringConvertible {
    public let underlying: any Error
    public let daemonLog: String
    public var description: String { "\(underlying)\n--- jobd log ---\n\(daemonLog)" }
}
