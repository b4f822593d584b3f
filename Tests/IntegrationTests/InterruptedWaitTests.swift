import Foundation
import JobdProtocol
import JobdTestSupport
import Testing

extension AgainstTheRealDaemon {
    /// Ctrl-C on `jobctl submit --wait > out` (issue 18, item 15).
    @Suite struct InterruptedWaitTests {
        @Test func anInterruptedSubmitAndWaitLeavesTheIdAndSaysWhatKeepsRunning() async throws {
            try await DaemonProcess.with { daemon in
                let stdout = daemon.directory.file("out")
                let stderr = daemon.directory.file("err")
                var environment = ProcessInfo.processInfo.environment
                environment["JOBD_SOCKET"] = daemon.socket
                let jobctl = try CleanSpawn.start(
                    Binaries.jobctl, ["submit", "--wait", "--io", "--", "sleep", "30"], environment: environment,
                    stdout: stdout, stderr: stderr)
                let id = try await eventually("the job runs") { () -> JobID? in
                    guard let text = try? String(contentsOfFile: stdout, encoding: .utf8), let raw = Int64(text.trimmingCharacters(in: .whitespacesAndNewlines)) else { return nil }
                    return try await daemon.job(JobID(raw)).state == .running ? JobID(raw) : nil
                }
                kill(jobctl, SIGINT)
                #expect(try await CleanSpawn.wait(jobctl, what: "jobctl") == 130)
                #expect(try String(contentsOfFile: stdout, encoding: .utf8) == "\(id)\n", "the id reached the file")
                let said = try String(contentsOfFile: stderr, encoding: .utf8)
                #expect(said.contains("job \(id) keeps running") && said.contains("jobctl cancel \(id)"), "\(said)")
                #expect(try await daemon.job(id).state == .running, "the job goes on")
                _ = try await daemon.jobctl("cancel", id.description)
            }
        }
    }
}
