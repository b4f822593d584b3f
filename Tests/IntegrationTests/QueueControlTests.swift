import Foundation
import JobdClient
import JobdProtocol
import JobdTestSupport
import Testing

extension AgainstTheRealDaemon {
    /// Queue limits and pauses (issue 13): through the protocol, kept across a restart.
    @Suite struct QueueControlTests {
        private func call<P: Encodable & Sendable>(_ daemon: DaemonProcess, _ method: String, _ parameters: P) async throws {
            _ = try await daemon.connect { try await $0.call(method, parameters, returning: Empty.self) }
        }

        /// A job that runs until `gate` exists, and notes when it starts.
        private func gated(_ daemon: DaemonProcess, _ name: String, queue: String? = nil, class jobClass: JobClass = .io) -> JobSpec {
            let gate = daemon.directory.file("gate")
            let log = daemon.directory.file("started")
            return JobSpec(
                argv: ["sh", "-c", "echo \(name) >> \(log); while [ ! -e \(gate) ]; do sleep 0.02; done"], queue: queue,
                class: jobClass)
        }

        private func started(_ daemon: DaemonProcess) -> [String] {
            ((try? String(contentsOfFile: daemon.directory.file("started"), encoding: .utf8)) ?? "")
                .split(separator: "\n").map(String.init)
        }

        private func openGate(_ daemon: DaemonProcess) {
            FileManager.default.createFile(atPath: daemon.directory.file("gate"), contents: nil)
        }

        @Test func aQueueLimitRunsItsJobsOneAtATimeWhileOthersOverlap() async throws {
            try await DaemonProcess.with { daemon in
                try await call(daemon, SetQueueLimit.method, SetQueueLimit.Parameters(queue: "media", limit: 1))
                let ids = try await daemon.submit([
                    gated(daemon, "m1", queue: "media"), gated(daemon, "m2", queue: "media"), gated(daemon, "d1"),
                    gated(daemon, "d2"),
                ])
                try await eventually("the free queue's jobs and one media job run") {
                    Set(started(daemon)) == ["m1", "d1", "d2"] ? true : nil
                }
                try await staysFalse("a second media job started", for: .milliseconds(400)) { started(daemon).contains("m2") }
                let status = try await daemon.status()
                #expect(status.queues.first { $0.name == "media" } == QueueInfo(name: "media", limit: 1, paused: false, running: 1))
                openGate(daemon)
                let jobs = try await daemon.wait(ids)
                #expect(jobs.allSatisfy { $0.state == .succeeded })
            }
        }

        @Test func pausedQueuesAndClassesStartNothingAndResumeStartsThem() async throws {
            try await DaemonProcess.with { daemon in
                try await call(daemon, Pause.method, PauseParameters(queue: "media"))
                try await call(daemon, Pause.method, PauseParameters(class: .cpu))
                openGate(daemon)
                let ids = try await daemon.submit([
                    gated(daemon, "media", queue: "media"), gated(daemon, "cpu", class: .cpu), gated(daemon, "io"),
                ])
                #expect(try await daemon.wait([ids[2]])[0].state == .succeeded, "an unpaused job runs")
                try await staysFalse("a paused job started", for: .milliseconds(400)) { started(daemon).count > 1 }
                let status = try await daemon.status()
                #expect(status.paused == ["cpu"] && status.queues.contains { $0.name == "media" && $0.paused })
                try await call(daemon, Resume.method, PauseParameters(queue: "media"))
                try await call(daemon, Resume.method, PauseParameters(class: .cpu))
                #expect(try await daemon.wait(ids).allSatisfy { $0.state == .succeeded })
            }
        }

        @Test func pausesAndLimitsSurviveARestart() async throws {
            try await DaemonProcess.with { daemon in
                try await call(daemon, Pause.method, PauseParameters(all: true))
                try await call(daemon, SetQueueLimit.method, SetQueueLimit.Parameters(queue: "media", limit: 2))
                let id = try await daemon.submit([JobSpec(argv: ["true"])])[0]
                #expect(try await daemon.terminate() == 0)
                try await daemon.start()
                let status = try await daemon.status()
                #expect(status.paused == ["all"])
                #expect(status.queues.contains { $0.name == "media" && $0.limit == 2 })
                try await staysFalse("a job started while everything is paused", for: .milliseconds(300)) {
                    try await daemon.job(id).state != .queued
                }
                try await call(daemon, Resume.method, PauseParameters(all: true))
                #expect(try await daemon.wait([id])[0].state == .succeeded)
            }
        }

        @Test func aPauseNamesExactlyOneTarget() async throws {
            try await DaemonProcess.with { daemon in
                await #expect(throws: (any Error).self) {
                    try await call(daemon, Pause.method, PauseParameters(queue: "media", all: true))
                }
                await #expect(throws: (any Error).self) { try await call(daemon, Pause.method, PauseParameters()) }
                await #expect(throws: (any Error).self) {
                    try await call(daemon, SetQueueLimit.method, SetQueueLimit.Parameters(queue: "media", limit: -1))
                }
            }
        }

        @Test(.enabled(if: getuid() == 0, "calls as nobody with setpriv, which needs root"))
        func onlyRootMayPauseOrLimit() async throws {
            try await DaemonProcess.with { daemon in
                chmod(daemon.directory.path, 0o755)
                let script = """
                    import socket, sys
                    s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1])
                    s.sendall(b'{"method": "io.jobd.Pause", "parameters": {"all": true}}\\0')
                    print(s.recv(65536).decode().rstrip("\\0"))
                    """
                let reply = try await runProgram(
                    "/usr/bin/setpriv",
                    ["--reuid=65534", "--regid=65534", "--clear-groups", "/usr/bin/python3", "-c", script, daemon.socket])
                #expect(reply.stdout.contains("io.jobd.PermissionDenied"), "\(reply)")
                #expect(try await daemon.status().paused.isEmpty)
            }
        }
    }
}
