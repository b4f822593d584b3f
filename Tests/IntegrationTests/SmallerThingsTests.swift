import Foundation
import JobdProtocol
import JobdTestSupport
import Testing

extension AgainstTheRealDaemon {
    /// The smaller things a new user tripped on (issue 18, item 17).
    @Suite struct SmallerThingsTests {
        @Test func aRelativeCwdIsTakenFromJobctlsDirectory() async throws {
            try await DaemonProcess.with { daemon in
                try FileManager.default.createDirectory(atPath: daemon.directory.file("work"), withIntermediateDirectories: false)
                var environment = ProcessInfo.processInfo.environment
                environment["JOBD_SOCKET"] = daemon.socket
                let result = try await runProgram(
                    Binaries.jobctl, ["submit", "--wait", "--cwd", "work", "--", "pwd"], environment: environment,
                    currentDirectory: daemon.directory.path)
                #expect(result.status == 0, "\(result)")
                let id = try #require(result.stdout.split(separator: "\n").first.map(String.init))
                #expect(try await daemon.jobctl("logs", id).stdout == daemon.directory.file("work") + "\n")
            }
        }

        @Test func workersAndHandlerProcessesAreNamedInPs() async throws {
            try await DaemonProcess.with(arguments: ["--cpu-workers", "1"]) { daemon in
                _ = try await daemon.wait(try await daemon.submit([JobSpec(kind: "noop", class: .cpu)]))
                let worker = try #require(try await daemon.status().workers.first?.pid)
                let name = try String(contentsOfFile: "/proc/\(worker)/comm", encoding: .utf8)
                #expect(name == "jobd-worker\n", "\(name)")
            }
        }
    }
}
