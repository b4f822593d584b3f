import Foundation
import JobdClient
import JobdVarlinkNIO
import JobdProtocol

/// A release `jobd` on a temp socket and database, for one workload.
final class BenchDaemon {
    let directory: String
    let process = Process()
    var socket: String { directory + "/jobd.sock" }

    /// Starts jobd; with `directory`, on the socket and database a stopped one left there.
    /// - Parameter waitForIdleWorkers: ready means every CPU worker is idle, so a workload does not time
    ///   their start; false: ready as soon as the socket answers (a restart whose workers are busy at once).
    init(
        binDirectory: String, arguments: [String], directory: String? = nil, waitForIdleWorkers: Bool = true
    ) async throws {
        self.directory = directory ?? NSTemporaryDirectory() + "jobd-bench-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: self.directory, withIntermediateDirectories: true)
        process.executableURL = URL(fileURLWithPath: binDirectory + "/jobd")
        process.arguments = ["--socket", socket, "--database", self.directory + "/jobd.db", "--log-level", "warning"] + arguments
        process.standardError = FileHandle(forWritingAtPath: "/dev/null")
        try process.run()
        let deadline = ContinuousClock.now + .seconds(60)
        while ContinuousClock.now < deadline {
            let status = try? await JobdConnection.withConnection(path: socket) {
                try await $0.call(Status.method, Status.Parameters(), returning: Status.Reply.self)
            }
            if let status, !waitForIdleWorkers || status.workers.allSatisfy({ $0.state == "idle" }) { return }
            try await Task.sleep(for: .milliseconds(5))
        }
        throw BenchError("jobd did not start")
    }

    /// Peak resident set size of the daemon so far (VmHWM), in bytes.
    var peakRSS: Int64 { ProcStats.statusField(process.processIdentifier, "VmHWM:") }

    /// The daemon's peak RSS plus each of its descendants' (its workers'), in bytes: an upper bound of
    /// their peak together.
    var peakRSSWithWorkers: Int64 {
        ProcStats.descendants(of: process.processIdentifier).reduce(peakRSS) { $0 + ProcStats.statusField($1, "VmHWM:") }
    }

    /// Resident set size of the daemon now (VmRSS), in bytes.
    var currentRSS: Int64 { ProcStats.statusField(process.processIdentifier, "VmRSS:") }

    /// SIGKILL, as a crash, and wait; the files stay for a restart.
    func kill() {
        Glibc.kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
    }

    /// SIGTERM, wait, and remove the files unless they are kept for a restart.
    func stop(keepFiles: Bool = false) {
        process.terminate()
        process.waitUntilExit()
        if !keepFiles { try? FileManager.default.removeItem(atPath: directory) }
    }
}

struct BenchError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
