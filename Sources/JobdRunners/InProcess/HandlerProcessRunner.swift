import CJobdSystem
import Glibc
import JobdHandlers
import JobdProtocol

/// Runs an I/O-class attempt of a handler that blocks (a ``BlockingJobHandler``: `sha256`) in a process
/// of its own, started like an exec job: `jobd run-handler --kind NAME`, as the job's owner, in its own
/// process group, its payload on stdin, its output captured as the job's stdout and stderr, its result on
/// fd 3 (``HandlerProcess``).
///
/// Why not a thread of the daemon: such a handler burns CPU or waits in the kernel for as long as its
/// input lasts. On the daemon's threads two of them froze every other user's calls, their timeouts and
/// SIGTERM (found in review, issue 18: a sha256 of a 2 TB sparse file), and a thread cannot be killed. A
/// process can: a timeout, a cancel and a shutdown reach it as they reach any command, and it reads its
/// files with its owner's rights alone.
public struct HandlerProcessRunner: Runner {
    let reactor: ProcessReactor
    /// The executable that has the handlers: this very binary (`/proc/self/exe`).
    let executable: String
    /// How long a stopped handler process has between SIGTERM and SIGKILL, as it is when the stop comes.
    public let killGrace: Setting<Duration>

    public init(reactor: ProcessReactor, executable: String, killGrace: Setting<Duration>) {
        self.reactor = reactor
        self.executable = executable
        self.killGrace = killGrace
    }

    public func run(_ attempt: Attempt, control: RunControl) async -> RunOutcome {
        guard case .handler(let name, let payload) = attempt.work else {
            control.finished()
            return RunOutcome(error: "the handler process runner was handed a command", wallSeconds: 0)
        }
        let input = (try? WireJSON.encode(payload)) ?? Array("null".utf8)
        let stdin = input.withUnsafeBytes { jobd_memfd_with($0.baseAddress, $0.count) }
        guard stdin >= 0 else {
            control.finished()
            return RunOutcome(error: "could not start: memfd_create: \(errnoText(-stdin))", wallSeconds: 0)
        }
        defer { close(stdin) }
        let request = SpawnRequest(
            path: executable, argv: ["jobd", HandlerProcess.subcommand, "--kind", name],
            environment: ["PATH=/usr/local/bin:/usr/bin:/bin"], cwd: attempt.cwd, identity: attempt.identity,
            stdio: .captured(
                path: attempt.outputPath, indexPath: OutputIndex.path(besideLog: attempt.outputPath),
                limit: attempt.outputLimit, stdin: stdin, collectsResult: true))
        let result = await StoppableProcess.run(
            request, reactor: reactor, control: control, timeout: attempt.timeout, killGrace: killGrace)
        var outcome = ExecRunner.outcome(of: result, stop: control.stopReason)
        guard case .exited(let exit) = result, control.stopReason == nil || control.stopReason == .shutdown else {
            return outcome
        }
        switch HandlerProcess.decodeResult(exit.result) {
        case .success(let value) where exit.exitCode == 0:
            outcome.result = value
            outcome.error = nil
        case .success:
            break  // it exited otherwise (a signal): the exit's words stand
        case .failure(let failure):
            outcome.error = failure.message
            if outcome.exitCode == 0 { outcome.exitCode = nil }
        }
        return outcome
    }
}

/// The two ends of a handler process: how `jobd run-handler` reports and how the daemon reads it.
public enum HandlerProcess {
    /// The hidden subcommand of `jobd` that runs one handler attempt.
    public static let subcommand = "run-handler"

    /// What the process writes to fd 3: `{"result": …}` or `{"error": "…"}`.
    struct Report: Codable {
        var result: JSONValue?
        var error: String?
    }

    /// Runs one attempt of `kind` in this process: the payload from stdin, output to stdout, the report to
    /// fd 3. Returns the exit status (0: the handler returned a result).
    public static func runHere(kind: String, registry: HandlerRegistry) async -> Int32 {
        let report: Report
        if case .handler(let handler)? = registry.kind(named: kind) {
            let payload = (try? WireJSON.decode(JSONValue.self, from: readAll(fd: 0, limit: 4 << 20))) ?? .null
            let context = HandlerContext(jobID: JobID(rawValue: 0), output: { writeAll(fd: 1, $0) }) { path in
                // This process is the job's owner: it opens files with their rights and nothing more.
                FileAccess.openForReading(path, as: nil).mapError { HandlerError($0.description) }
            }
            do throws(HandlerError) {
                report = Report(result: try await handler.run(payload, context: context))
            } catch {
                report = Report(error: error.message)
            }
        } else {
            report = Report(error: "this jobd has no handler named \(kind)")
        }
        writeAll(fd: 3, (try? WireJSON.encode(report)) ?? Array(#"{"error":"the result could not be encoded"}"#.utf8))
        return report.error == nil ? 0 : 1
    }

    /// The result a handler process reported, or why there is none.
    static func decodeResult(_ bytes: [UInt8]?) -> Result<JSONValue, Failure> {
        guard let bytes, !bytes.isEmpty else { return .failure(Failure("the handler process ended without a result")) }
        guard bytes.count <= ProcessReactor.maximumResultBytes else {
            return .failure(Failure("the handler's result is over \(ProcessReactor.maximumResultBytes) bytes"))
        }
        guard let report = try? WireJSON.decode(Report.self, from: bytes) else {
            return .failure(Failure("the handler process's result does not decode"))
        }
        if let error = report.error { return .failure(Failure(error)) }
        return .success(report.result ?? .null)
    }

    struct Failure: Error, Equatable {
        let message: String
        init(_ message: String) { self.message = message }
    }

    private static func readAll(fd: Int32, limit: Int) -> [UInt8] {
        var bytes: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 64 * 1024)
        while bytes.count < limit {
            let count = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if count < 0 && errno == EINTR { continue }
            guard count > 0 else { break }
            bytes += buffer[0..<count]
        }
        return bytes
    }

    private static func writeAll(fd: Int32, _ bytes: [UInt8]) {
        var rest = bytes[...]
        while !rest.isEmpty {
            let written = rest.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
            if written < 0 && errno == EINTR { continue }
            guard written > 0 else { return }
            rest = rest.dropFirst(written)
        }
    }
}
