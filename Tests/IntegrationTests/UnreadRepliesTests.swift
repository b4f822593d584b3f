import Foundation
import JobdProtocol
import JobdTestSupport
import Testing

extension AgainstTheRealDaemon {
    /// Clients that never read their replies hold a bounded amount of the daemon (issue 18, item 5).
    @Suite struct UnreadRepliesTests {
        @Test(.enabled(if: getuid() == 0 && hasPython3, "needs a root daemon, nobody and /usr/bin/python3 (raw clients)"))
        func connectionsThatNeverReadHoldAtMostTwoRepliesOfTheirUser() async throws {
            try await DaemonProcess.with(arguments: ["--max-reply-bytes", String(8 << 20)]) { daemon in
                let nobody = try NobodyClient(daemon)
                // 40 of nobody's jobs of 250 KB each, delayed an hour: a List of 100 is an 8 MiB page.
                let batch = daemon.directory.file("batch.jsonl")
                let line = #"{"argv": ["true", "\#(String(repeating: "x", count: 250_000))"], "delay_seconds": 3600}"#
                try Array(repeating: line, count: 40).joined(separator: "\n").write(toFile: batch, atomically: true, encoding: .utf8)
                #expect(chmod(batch, 0o644) == 0)
                let submitted = try await nobody.run(["submit", "--batch", batch])
                #expect(submitted.status == 0, "\(submitted)")

                let before = try #require(residentBytes(of: daemon.pid))
                let clients = try await UnreadClients(
                    daemon, count: 40, request: #"{"method": "io.jobd.List", "parameters": {"limit": 100}}"#)
                defer { clients.stop() }
                // Let the daemon do what it will with them.
                try await Task.sleep(for: .seconds(2))
                let held = try #require(residentBytes(of: daemon.pid)) - before
                // Two 8 MiB replies, the rows read beside them, and 38 calls waiting with their small frames.
                #expect(held < 100 << 20, "the unread replies hold \(held >> 20) MiB (40 of them would hold ~480)")
                // Another user is not held up: root lists at once.
                let listed = try await withDeadline("root's list", within: .seconds(5)) {
                    try await daemon.connect {
                        try await $0.call(List.method, List.Parameters(limit: 5), returning: List.Reply.self).jobs.count
                    }
                }
                #expect(listed == 5)
            }
        }
    }
}

extension AgainstTheRealDaemon.UnreadRepliesTests {
    /// Every method whose reply can be large takes a reply slot, `Logs` for each chunk (found in review,
    /// issue 18: 250 unread `Logs` of a job's control bytes, which are six times their size as JSON, held
    /// 640 MB).
    @Test(.enabled(if: getuid() == 0 && hasPython3, "needs a root daemon, nobody and /usr/bin/python3 (raw clients)"))
    func unreadLogsRepliesHoldAtMostTwoChunksOfTheirUser() async throws {
        try await DaemonProcess.with { daemon in
            let nobody = try NobodyClient(daemon)
            let printer = "import sys; sys.stdout.buffer.write(bytes(262144))"
            let submitted = try await nobody.run(["submit", "--json", "--io", "--cwd", "/", "--", "/usr/bin/python3", "-c", printer])
            let id = try jobID(printedBy: submitted)
            #expect(try await daemon.wait([id])[0].state == .succeeded)
            let before = try #require(residentBytes(of: daemon.pid))
            let clients = try await UnreadClients(
                daemon, count: 100, request: #"{"method": "io.jobd.Logs", "parameters": {"id": \#(id.rawValue)}}"#)
            defer { clients.stop() }
            try await Task.sleep(for: .seconds(2))
            let held = try #require(residentBytes(of: daemon.pid)) - before
            #expect(held < 60 << 20, "100 unread Logs replies hold \(held >> 20) MiB (each is 1.5 MiB of JSON)")
        }
    }
}

/// nobody's raw clients (Python): `count` connections that each send `request` and never read their
/// reply (a 4 KiB receive buffer), held until ``stop()``. Returns once every request is sent.
private struct UnreadClients {
    let pid: pid_t

    init(_ daemon: DaemonProcess, count: Int, request: String) async throws {
        let script = daemon.directory.file("unread.py")
        try """
            import socket, sys, time
            held = []
            for _ in range(int(sys.argv[2])):
                s = socket.socket(socket.AF_UNIX)
                s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
                s.connect(sys.argv[1])
                s.sendall(sys.argv[3].encode() + b"\\0")
                held.append(s)
            print("sent", flush=True)
            time.sleep(60)
            """.write(toFile: script, atomically: true, encoding: .utf8)
        #expect(chmod(script, 0o644) == 0)
        let (output, errors) = (daemon.directory.file("unread.out"), daemon.directory.file("unread.err"))
        let pid = try CleanSpawn.start(
            "/usr/bin/setpriv",
            ["--reuid=65534", "--regid=65534", "--clear-groups", "/usr/bin/python3", script, daemon.socket, String(count), request],
            stdout: output, stderr: errors)
        self.pid = pid
        do {
            try await eventually("the \(count) calls are sent") { () -> Bool? in
                if let failed = try? String(contentsOfFile: errors, encoding: .utf8), !failed.isEmpty { throw TimedOut(failed) }
                return ((try? String(contentsOfFile: output, encoding: .utf8)) ?? "").contains("sent") ? true : nil
            }
        } catch {
            stop()
            throw error
        }
    }

    func stop() {
        kill(pid, SIGKILL)
        var status: Int32 = 0
        waitpid(pid, &status, 0)
    }
}

/// The resident set of a process now (VmRSS), in bytes.
func residentBytes(of pid: Int32) -> Int? {
    guard let text = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8),
        let line = text.split(separator: "\n").first(where: { $0.hasPrefix("VmRSS:") }),
        let kilobytes = line.split(whereSeparator: { $0 == " " || $0 == "\t" }).dropFirst().first.flatMap({ Int($0) })
    else { return nil }
    return kilobytes * 1024
}

extension AgainstTheRealDaemon {
    /// Waiting jobs do not keep their commands in memory (issue 18, item 4).
    @Suite struct WaitingJobsMemoryTests {
        @Test func jobsDelayedAYearKeepTheirLargeArgumentsOutOfMemory() async throws {
            try await DaemonProcess.with { daemon in
                let before = try #require(residentBytes(of: daemon.pid))
                let large = String(repeating: "a", count: 500_000)
                try await daemon.connect { connection in
                    for _ in 0..<200 {
                        _ = try await connection.call(
                            Submit.method,
                            Submit.Parameters(jobs: [JobSpec(argv: ["true", large], class: .io, delaySeconds: 31_000_000)]),
                            returning: Submit.Reply.self)
                    }
                }
                let grown = try #require(residentBytes(of: daemon.pid)) - before
                // 100 MB of arguments, stored; what the daemon holds of them is what SQLite caches.
                #expect(grown < 60 << 20, "200 delayed jobs of 500 KB grew the daemon by \(grown >> 20) MiB")
                #expect(try await daemon.status().total.scheduled == 200)
            }
        }

        /// Retries waiting out a backoff kept their whole plan whatever the bound (found reading the core,
        /// issue 19): 250 failed jobs of 400 KB each held 100 MB until their next attempt.
        @Test func retriesInTheirBackoffKeepTheirLargeArgumentsOutOfMemory() async throws {
            try await DaemonProcess.with { daemon in
                let before = try #require(residentBytes(of: daemon.pid))
                // execve takes at most 128 KiB per argument: four of 100 KB.
                let large = Array(repeating: String(repeating: "a", count: 100_000), count: 4)
                let spec = JobSpec(
                    argv: ["sh", "-c", "exit 1", "sh"] + large, class: .io, maxAttempts: 2, backoffSeconds: 3600)
                try await daemon.connect { connection in
                    for _ in 0..<250 {
                        _ = try await connection.call(
                            Submit.method, Submit.Parameters(jobs: [spec]), returning: Submit.Reply.self)
                    }
                }
                try await eventually("every first attempt failed", within: .seconds(60)) {
                    try await daemon.status().total.scheduled == 250 ? true : nil
                }
                let grown = try #require(residentBytes(of: daemon.pid)) - before
                // 100 MB of arguments; the plans kept are bounded to 32 MiB, the rest is read back when due.
                #expect(grown < 75 << 20, "250 retries of 400 KB in their backoff grew the daemon by \(grown >> 20) MiB")
            }
        }
    }
}
