import Foundation
import JobdProtocol
import JobdTestSupport
import Testing

extension AgainstTheRealDaemon {
    /// What a drain looks like from outside (issue 18, item 16).
    @Suite struct ShutdownTests {
        @Test func duringADrainCallsAreAnsweredAndAnInterruptedAttemptKeepsWhatItDid() async throws {
            try await DaemonProcess.with(arguments: ["--shutdown-grace", "3"]) { daemon in
                let id = try await daemon.submit([JobSpec(argv: ["sleep", "30"], class: .io)])[0]
                try await eventually("it runs") { try await daemon.job(id).state == .running ? true : nil }
                try await Task.sleep(for: .seconds(1))  // the attempt has run a while when the drain comes
                kill(daemon.pid, SIGTERM)
                try await eventually("the drain has begun") { daemon.log.contains("shutting down") ? true : nil }
                let refused = try await daemon.jobctl("submit", "--", "true")
                #expect(refused.status == 75, "a submit during the drain is told to try again: \(refused)")
                #expect(refused.stderr.contains("shutting down"), "\(refused)")
                let status = try await daemon.jobctl("status")
                #expect(status.status == 0, "other calls are answered during the drain: \(status)")
                #expect(try await daemon.waitForExit(within: .seconds(10)) == 0)

                try await daemon.start()
                let attempts = try await daemon.connect {
                    try await $0.call(Attempts.method, Attempts.Parameters(id: id), returning: Attempts.Reply.self).attempts
                }
                let cut = try #require(attempts.first?.outcome)
                #expect(cut.wallSeconds >= 3.5, "the attempt ran a second and the 3 s grace: \(cut)")
                #expect(cut.signal == 15, "\(cut)")
                #expect(cut.error?.contains("shut down while it ran") == true, "\(cut)")
                _ = try await daemon.jobctl("cancel", id.description)
            }
        }
    }
}
