import Foundation
import JobdProtocol
import JobdTestSupport
import Testing

extension AgainstTheRealDaemon {
    /// What a handler job does stays its owner's: its CPU off the daemon's threads, its timeouts and the
    /// daemon's SIGTERM holding, its files read with its owner's rights alone (issue 18, items 1 and 9).
    @Suite struct HandlerIsolationTests {
        @Test(.enabled(if: getuid() == 0, "needs a root daemon and a second user (nobody)"))
        func twoIOHashesOfAHugeFileFreezeNothingAndTheirTimeoutsAndSIGTERMHold() async throws {
            try await DaemonProcess.with { daemon in
                let nobody = try NobodyClient(daemon)
                // A 2 TB file of zeros costs no disk and hashes for half an hour.
                let sparse = daemon.directory.file("sparse")
                #expect(FileManager.default.createFile(atPath: sparse, contents: nil))
                #expect(truncate(sparse, 2 << 40) == 0)
                #expect(chmod(sparse, 0o644) == 0)
                var ids: [JobID] = []
                for _ in 0..<2 {
                    ids.append(
                        try jobID(
                            printedBy: try await nobody.run([
                                "submit", "--json", "--io", "--timeout", "2", "--kind", "sha256", "--payload",
                                "{\"path\": \"\(sparse)\"}",
                            ])))
                }
                try await eventually("both hash") { try await daemon.status().io.running == 2 ? true : nil }
                // Another user's calls are answered while they hash (the review saw 15 s without a reply).
                for _ in 0..<5 {
                    try await withDeadline("a Ping while two hashes run", within: .seconds(2)) {
                        _ = try await daemon.status()
                    }
                }
                let ended = try await daemon.wait(ids, within: .seconds(20))
                for job in ended {
                    #expect(job.state == .failed)
                    #expect(job.error?.hasPrefix("timeout: still running after 2s") == true, "\(job.error ?? "")")
                    let ran = (job.finishedAt?.secondsSinceEpoch ?? 0) - (job.startedAt?.secondsSinceEpoch ?? 0)
                    // The timeout, then SIGTERM: the process is gone at once (the review: 2 min 17 s).
                    #expect(ran < 2 + 1 + 3, "it stopped within its timeout and the kill grace: \(ran) s")
                    #expect(job.cpuSeconds ?? 0 > 0.5, "the hashing was its own process's CPU, not the daemon's")
                }

                // SIGTERM while two more hash: the daemon exits within shutdown-grace + kill-grace + 1.5 s.
                for _ in 0..<2 {
                    _ = try jobID(
                        printedBy: try await nobody.run([
                            "submit", "--json", "--io", "--kind", "sha256", "--payload", "{\"path\": \"\(sparse)\"}",
                        ]))
                }
                try await eventually("both hash") { try await daemon.status().io.running == 2 ? true : nil }
                let stopping = ContinuousClock.now
                #expect(try await daemon.terminate(within: .seconds(10)) == 0)
                #expect(ContinuousClock.now - stopping < .milliseconds(3500), "1 s + 1 s + 1.5 s")
            }
        }

        @Test(
            .enabled(if: getuid() == 0, "needs a root daemon and a second user (nobody)"),
            arguments: ["cpu", "io"])
        func aHandlerCannotReadThroughProcWhatItsOwnerCannot(jobClass: String) async throws {
            try await DaemonProcess.with { daemon in
                let nobody = try NobodyClient(daemon)
                // A root process whose working directory nobody cannot enter, with a file in it.
                let hidden = daemon.directory.file("hidden")
                try FileManager.default.createDirectory(atPath: hidden, withIntermediateDirectories: false)
                #expect(chmod(hidden, 0o700) == 0)
                try "1234".write(toFile: hidden + "/pin.txt", atomically: true, encoding: .utf8)
                #expect(chmod(hidden + "/pin.txt", 0o644) == 0)
                let holder = try CleanSpawn.start(
                    "/bin/sh", ["-c", "cd \(hidden) && exec sleep 60"], stdout: "/dev/null", stderr: "/dev/null")
                defer {
                    kill(holder, SIGKILL)
                    var status: Int32 = 0
                    waitpid(holder, &status, 0)
                }
                try await eventually("the holder is in its directory") {
                    (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(holder)/cwd")) == hidden ? true : nil
                }
                for path in ["/proc/\(holder)/cwd/pin.txt", "/proc/\(daemon.pid)/maps", "/proc/\(daemon.pid)/environ"] {
                    let id = try jobID(
                        printedBy: try await nobody.run([
                            "submit", "--json", "--\(jobClass)", "--kind", "sha256", "--payload", "{\"path\": \"\(path)\"}",
                        ]))
                    let job = try await daemon.wait([id])[0]
                    #expect(job.state == .failed, "nobody read \(path): \(String(describing: job.result))")
                    #expect(job.error?.contains("Permission denied") == true, "\(path): \(job.error ?? "")")
                }
                // Their own file reads, in both classes.
                let mine = try jobID(
                    printedBy: try await nobody.run([
                        "submit", "--json", "--\(jobClass)", "--kind", "sha256", "--payload", "{\"path\": \"/etc/passwd\"}",
                    ]))
                #expect(try await daemon.wait([mine])[0].state == .succeeded)
            }
        }
    }
}
