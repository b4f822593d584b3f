import Foundation
import JobdClient
import JobdVarlinkNIO
import JobdProtocol

/// A release `jobd` on a temp socket and database, for one workload.
final class BenchDaemon {
    let directory: String
    let process = Process()
    var socket: String { directory + "/jobd.sock" }

    init(binDirectory: String, arguments: [String]) async throws {
        directory = NSTemporaryDirectory() + "jobd-bench-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        process.executableURL = URL(fileURLWithPath: binDirectory + "/jobd")
        process.arguments = ["--socket", socket, "--database", directory + "/jobd.db", "--log-level", "warning"] + arguments
        process.standardError = FileHandle(forWritingAtPath: "/dev/null")
        try process.run()
        let deadline = ContinuousClock.now + .seconds(10)
        while ContinuousClock.now < deadline {
            // Ready means every CPU worker is up, so a workload does not time their start.
            let status = try? await JobdConnection.withConnection(path: socket) {
                try await $0.call(Status.method, Status.Parameters(), returning: Status.Reply.self)
            }
            if let status, status.workers.allSatisfy({ $0.state == "idle" }) { return }
            try await Task.sleep(for: .milliseconds(20))
        }
        throw BenchError("jobd did not start")
    }

    /// Peak resident set size of the daemon so far (VmHWM), in bytes.
    var peakRSS: Int64 {
        guard let status = try? String(contentsOfFile: "/proc/\(process.processIdentifier)/status", encoding: .utf8),
            let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmHWM:") }),
            let kb = Int64(line.split(separator: " ").dropFirst().first ?? "")
        else { return 0 }
        return kb * 1024
    }

    func stop() {
        process.terminate()
        process.waitUntilExit()
        try? FileManager.default.removeItem(atPath: directory)
    }
}

struct BenchError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
