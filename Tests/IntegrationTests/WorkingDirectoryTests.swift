import Foundation
import JobdProtocol
import JobdTestSupport
import Testing

extension AgainstTheRealDaemon {
    /// Where a job runs when it names no working directory (issue 18, item 10): where a login would put its
    /// owner (their home, else /), reached as the owner; never the daemon's own working directory.
    @Suite struct WorkingDirectoryTests {
        @Test func aJobWithoutCwdRunsInItsOwnersHome() async throws {
            try await DaemonProcess.with { daemon in
                let home = FileManager.default.homeDirectoryForCurrentUser.path
                let id = try await daemon.submit([JobSpec(argv: ["/bin/pwd"], class: .io)])[0]
                #expect(try await daemon.wait([id])[0].state == .succeeded)
                let output = try await daemon.jobctl("logs", id.description)
                #expect(output.stdout == home + "\n", "\(output)")
            }
        }

        @Test(.enabled(if: getuid() == 0 && hasPython3, "needs a root daemon, nobody and /usr/bin/python3 (a raw client)"))
        func anotherUsersJobWithoutCwdRunsInTheirHomeElseTheRootNotInTheDaemons() async throws {
            try await DaemonProcess.with { daemon in
                _ = try NobodyClient(daemon)  // lets nobody reach the socket
                // jobctl always sends a cwd: a raw client, as nobody, sends none.
                let script = daemon.directory.file("submit.py")
                try """
                    import json, socket, sys
                    s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1])
                    s.sendall(json.dumps({"method": "io.jobd.Submit", "parameters": {"jobs": [
                        {"argv": ["/bin/pwd"], "class": sys.argv[2]}]}}).encode() + b"\\0")
                    reply = b""
                    while not reply.endswith(b"\\0"): reply += s.recv(65536)
                    print(json.loads(reply[:-1])["parameters"]["ids"][0])
                    """.write(toFile: script, atomically: true, encoding: .utf8)
                #expect(chmod(script, 0o644) == 0)
                let home = try await runProgram("/usr/bin/getent", ["passwd", "nobody"]).output
                    .split(separator: ":", omittingEmptySubsequences: false)[5]
                let expected = FileManager.default.fileExists(atPath: String(home)) ? String(home) : "/"
                for jobClass in ["io", "cpu"] {
                    let submitted = try await runProgram(
                        "/usr/bin/setpriv",
                        ["--reuid=65534", "--regid=65534", "--clear-groups", "/usr/bin/python3", script, daemon.socket, jobClass])
                    let id = JobID(try #require(Int64(submitted.output), "\(submitted)"))
                    #expect(try await daemon.wait([id])[0].state == .succeeded)
                    #expect(try await daemon.jobctl("logs", id.description).stdout == expected + "\n")
                }
            }
        }
    }
}
