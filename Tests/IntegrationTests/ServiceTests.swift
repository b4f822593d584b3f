import Foundation
import JobdClient
import JobdVarlinkNIO
import JobdProtocol
import JobdTestSupport
import Testing

extension AgainstTheRealDaemon {
    /// jobd as a systemd service: the notify protocol, socket activation, the configuration file, reload.
    @Suite struct ServiceTests {
        // MARK: - Notify protocol

        @Test func tellsSystemdItIsReadyItsStatusThatItLivesAndThatItStops() async throws {
            let notifyDirectory = try TempDirectory()
            defer { notifyDirectory.remove() }
            let systemd = try NotifyListener(path: notifyDirectory.file("notify"))
            // 200 ms: a ping every 100 ms.
            let environment = ["NOTIFY_SOCKET": systemd.path, "WATCHDOG_USEC": "200000"]
            try await DaemonProcess.with(environment: environment, launched: false) { daemon in
                try daemon.launch()
                try await eventually("READY=1") { systemd.hasReceived("READY=1") ? true : nil }
                // Ready means serving: the first call, with no retry, is answered.
                _ = try await daemon.status()
                #expect(systemd.messages().first(where: { $0.hasPrefix("STATUS=") }) != nil)

                let ids = try await daemon.submit([JobSpec(argv: ["true"]), JobSpec(argv: ["true"])])
                _ = try await daemon.wait(ids)
                try await eventually("STATUS= shows both jobs done") {
                    systemd.hasReceived("STATUS=0 running (0 cpu, 0 io), 0 queued, 2 done") ? true : nil
                }

                let start = ContinuousClock.now
                let before = systemd.arrivals(of: "WATCHDOG=1").count
                try await eventually("ten more watchdog pings") {
                    systemd.arrivals(of: "WATCHDOG=1").count >= before + 10 ? true : nil
                }
                let elapsed = ContinuousClock.now - start
                #expect(elapsed > .milliseconds(800) && elapsed < .seconds(3), "a ping every 100 ms, took \(elapsed)")
                #expect(!systemd.hasReceived("STOPPING=1"))

                #expect(try await daemon.terminate() == 0)
                #expect(systemd.hasReceived("STOPPING=1"))
                let statusLines = systemd.messages().filter { $0.hasPrefix("STATUS=") }
                #expect(zip(statusLines, statusLines.dropFirst()).allSatisfy { $0 != $1 }, "STATUS= only on change")
            }
        }

        // MARK: - Socket activation

        /// systemd-socket-activate plays systemd's part: it listens on the path, then execs the command with
        /// the socket as fd 3 and LISTEN_PID/LISTEN_FDS set. jobd is held back until the test has submitted.
        @Test func servesTheSocketSystemdPassesAndAnswersACallMadeBeforeItStarted() async throws {
            try await DaemonProcess.with(
                wrapper: [
                    "/usr/bin/systemd-socket-activate", "-l", "{directory}/jobd.sock", "/bin/sh", "-c",
                    "while [ ! -e {directory}/go ]; do sleep 0.02; done; exec \"$0\" \"$@\"",
                ], launched: false
            ) { daemon in
                try daemon.launch()
                try await eventually("systemd-socket-activate listens") {
                    FileManager.default.fileExists(atPath: daemon.socket) ? true : nil
                }
                let socket = daemon.socket
                // Connected and sent while no jobd runs: the call waits in the socket's backlog.
                let submitted = Task {
                    try await JobdConnection.withConnection(path: socket) {
                        try await $0.call(
                            Submit.method, Submit.Parameters(jobs: [JobSpec(argv: ["true"])]), returning: Submit.Reply.self
                        ).ids
                    }
                }
                try await Task.sleep(for: .milliseconds(200))  // give the call time to reach the backlog first
                #expect(!daemon.log.contains("listening on"), "jobd has not started yet")
                _ = FileManager.default.createFile(atPath: daemon.directory.file("go"), contents: nil)
                let ids = try await withDeadline("the early submit is answered") { try await submitted.value }
                #expect(try await daemon.wait(ids)[0].state == .succeeded)
                #expect(daemon.log.contains("listening on the socket systemd passed (fd 3)"))
                #expect(try await daemon.terminate() == 0)
                #expect(FileManager.default.fileExists(atPath: socket), "a socket systemd owns is never removed")
            }
        }

        @Test func sendsNothingWithoutANotifySocket() async throws {
            try await DaemonProcess.with { daemon in
                let status = try await daemon.terminate()
                #expect(status == 0)
                #expect(!daemon.log.contains("sd_notify"))
            }
        }
    }
}
