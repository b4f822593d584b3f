import Foundation
import JobdProtocol
import JobdTestSupport
import Testing

extension AgainstTheRealDaemon {
    /// The README's quick tour, line by line, with the real jobd and the real jobctl.
    @Suite struct TourTests {
        @Test func submitWaitLogsShowListStatus() async throws {
            try await DaemonProcess.with { daemon in
                let submitted = try await daemon.jobctl("submit", "--", "sh", "-c", "echo hi; exit 3")
                #expect(submitted.status == 0, "\(submitted)")
                #expect(submitted.stdout == "1\n", "submit prints only the id: \(submitted)")

                let waited = try await daemon.jobctl("wait", "1")
                #expect(waited.status == 3, "wait exits with the job's code: \(waited)")

                let logs = try await daemon.jobctl("logs", "1")
                #expect(logs.stdout == "hi\n")

                let shown = try await daemon.jobctl("show", "1")
                #expect(shown.stdout.contains("failed"))
                #expect(shown.stdout.contains("exited with code 3"))

                let json = try await daemon.jobctl("show", "--json", "1")
                let object = try #require(try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any])
                for key in [
                    "id", "state", "kind", "argv", "class", "class_source", "queue", "priority", "attempts", "exit_code",
                    "signal", "error", "created_at", "started_at", "finished_at", "wall_seconds", "cpu_seconds",
                ] {
                    #expect(object.keys.contains(key), "show --json lacks \(key)")
                }
                #expect(object["state"] as? String == "failed")
                #expect(object["exit_code"] as? Int == 3)
                #expect(object["signal"] is NSNull, "absent values are null")
                #expect(object["class_source"] as? String == "default")
                #expect(object["attempts"] as? Int == 1)

                let failed = try await daemon.jobctl("list", "--state", "failed")
                #expect(failed.stdout.contains("sh -c 'echo hi; exit 3'"), "\(failed)")
                let succeeded = try await daemon.jobctl("list", "--state", "succeeded", "--json")
                #expect(succeeded.output == "[\n\n]" || succeeded.output == "[]", "no succeeded job: \(succeeded)")

                let status = try await daemon.jobctl("status", "--json")
                let counts = try #require(try JSONSerialization.jsonObject(with: Data(status.stdout.utf8)) as? [String: Any])
                let total = try #require(counts["total"] as? [String: Int])
                #expect(total["failed"] == 1)
                #expect(total["queued"] == 0)
                let human = try await daemon.jobctl("status")
                #expect(human.stdout.contains("failed"), "\(human)")
            }
        }

        @Test func submitWaitExitsWithTheJobsCode() async throws {
            try await DaemonProcess.with { daemon in
                let ok = try await daemon.jobctl("submit", "--wait", "--", "true")
                #expect(ok.status == 0)
                let bad = try await daemon.jobctl("submit", "--wait", "--", "sh", "-c", "exit 7")
                #expect(bad.status == 7)
                let json = try await daemon.jobctl("submit", "--json", "--", "true")
                #expect(json.output.replacingOccurrences(of: " ", with: "") == "{\n\"id\":3\n}")
            }
        }

        /// `status` and `submit [--wait] -- COMMAND` skip ArgumentParser when written exactly so
        /// (Jobctl.runWithoutParsing): they must do what the parsed commands do, and anything else must
        /// still be parsed.
        @Test func theUnparsedFastPathsMatchTheParsedCommands() async throws {
            try await DaemonProcess.with { daemon in
                let fast = try await daemon.jobctl("submit", "--wait", "--", "sh", "-c", "exit 4")
                #expect(fast.status == 4, "\(fast)")
                let parsed = try await daemon.jobctl("submit", "--wait", "--queue", "default", "--", "sh", "-c", "exit 4")
                #expect(parsed.status == 4, "\(parsed)")
                func job(_ result: CommandResult) async throws -> [String: Any] {
                    let shown = try await daemon.jobctl("show", "--json", result.output)
                    return try #require(try JSONSerialization.jsonObject(with: Data(shown.stdout.utf8)) as? [String: Any])
                }
                let (a, b) = (try await job(fast), try await job(parsed))
                // (class_source differs: the second run's class is learned from the first.)
                for key in ["argv", "env", "cwd", "queue", "max_attempts", "timeout_seconds", "priority", "kind"] {
                    #expect(a[key].map { $0 as? NSObject } == b[key].map { $0 as? NSObject }, "\(key) differs")
                }
                let status = try await daemon.jobctl("status")
                #expect(status.status == 0 && status.stdout.hasPrefix("jobd "), "\(status)")
                #expect(try await daemon.jobctl("status", "--json").stdout.contains("\"version\""))
                let nothing = try await daemon.jobctl("submit", "--wait", "--")
                #expect(nothing.status == 64, "an empty command is still refused by the parser: \(nothing)")
                let typo = try await daemon.jobctl("status", "--jsn")
                #expect(typo.status == 64, "an unknown option is still refused by the parser: \(typo)")
            }
        }

        @Test func waitOnSeveralJobsReturnsTheFirstFailureInArgumentOrder() async throws {
            try await DaemonProcess.with { daemon in
                let ids = try await daemon.submit([
                    JobSpec(argv: ["true"]), JobSpec(argv: ["sh", "-c", "exit 4"]), JobSpec(argv: ["sh", "-c", "exit 5"]),
                ])
                let all = try await daemon.jobctl(["wait"] + ids.map(\.description))
                #expect(all.status == 4, "\(all)")
                let reversed = try await daemon.jobctl(["wait"] + ids.reversed().map(\.description))
                #expect(reversed.status == 5, "\(reversed)")
                let good = try await daemon.jobctl("wait", ids[0].description)
                #expect(good.status == 0)
            }
        }

        @Test func cancelKillsTheWholeProcessTree() async throws {
            try await DaemonProcess.with { daemon in
                let marker = daemon.directory.file("tree-\(UInt32.random(in: 0...UInt32.max))")
                // A shell with a background child and a foreground child: both must die.
                let id = try await daemon.jobctl("submit", "--", "sh", "-c", "sleep 300 & echo $! > \(marker); sleep 300")
                let jobID = id.output
                let child = try await eventually("the background child wrote its pid") { () -> Int32? in
                    (try? String(contentsOfFile: marker, encoding: .utf8)).flatMap { Int32($0.trimmingCharacters(in: .whitespacesAndNewlines)) }
                }
                #expect(kill(child, 0) == 0, "the background child runs")
                let cancelled = try await daemon.jobctl("cancel", jobID)
                #expect(cancelled.output == "\(jobID) cancelled", "\(cancelled)")
                try await eventually("the background child is gone") { kill(child, 0) != 0 ? true : nil }
                let waited = try await daemon.jobctl("wait", jobID)
                #expect(waited.status == 130, "cancelled has its own exit code: \(waited)")
                let again = try await daemon.jobctl("cancel", jobID)
                #expect(again.status == 65 && again.stderr.contains("already finished"), "\(again)")
            }
        }

        @Test func cancelOfAQueuedJobNeverRunsIt() async throws {
            try await DaemonProcess.with(arguments: ["--cpu-workers", "1"]) { daemon in
                // One blocker executes and one is queued in the worker (docs/WORKERS.md): the next job waits.
                let blockers = try await daemon.submit([
                    JobSpec(argv: ["sleep", "300"], class: .cpu), JobSpec(argv: ["sleep", "300"], class: .cpu),
                ])
                let marker = daemon.directory.file("ran")
                let queued = try await daemon.submit([JobSpec(argv: ["touch", marker], class: .cpu)])[0]
                #expect(try await daemon.job(queued).state == .queued)
                let result = try await daemon.jobctl("cancel", queued.description)
                #expect(result.output == "\(queued) cancelled")
                _ = try await daemon.jobctl("cancel", blockers[1].description, blockers[0].description)
                let finished = try await daemon.wait(blockers + [queued])
                #expect(finished.map(\.state) == [.cancelled, .cancelled, .cancelled])
                #expect(!FileManager.default.fileExists(atPath: marker), "a cancelled queued job never runs")
            }
        }

        @Test func unknownIdsAndAnUnreachableDaemonGiveOneClearLine() async throws {
            try await DaemonProcess.with { daemon in
                for command in [["show", "999"], ["wait", "999"], ["logs", "999"], ["cancel", "999"]] {
                    let result = try await daemon.jobctl(command)
                    #expect(result.status == 66, "\(command): \(result)")
                    #expect(result.stderr == "jobctl: no job 999 (it never existed, was pruned, or belongs to another user)\n")
                }
            }
            var environment = ProcessInfo.processInfo.environment
            environment["JOBD_SOCKET"] = "/tmp/jobd-test-nobody-listens.sock"
            let unreachable = try await runProgram(Binaries.jobctl, ["status"], environment: environment)
            #expect(unreachable.status == 69)
            #expect(unreachable.stderr.hasPrefix("jobctl: cannot reach jobd at /tmp/jobd-test-nobody-listens.sock"))
            #expect(unreachable.stderr.split(separator: "\n").count == 1)
        }

        @Test func batchSubmitStoresEveryLineInOneCall() async throws {
            try await DaemonProcess.with { daemon in
                let batch = """
                    {"argv": ["sh", "-c", "echo one"]}
                    {"argv": ["sh", "-c", "echo two"], "class": "io", "name": "second"}

                    {"argv": ["true"], "priority": 5}
                    """
                let result = try await daemon.jobctl("submit", "--batch", "-", input: batch)
                #expect(result.status == 0, "\(result)")
                #expect(result.stdout == "1\n2\n3\n")
                let jobs = try await daemon.wait([JobID(1), JobID(2), JobID(3)])
                #expect(jobs.allSatisfy { $0.state == .succeeded })
                #expect(jobs[1].class == .io && jobs[1].classSource == .hint && jobs[1].name == "second")
                #expect(try await daemon.jobctl("logs", "2").stdout == "two\n")

                let broken = try await daemon.jobctl("submit", "--batch", "-", input: "{\"argv\": [\"true\"]}\nnot json\n")
                #expect(broken.status == 65 && broken.stderr.contains("line 2"), "\(broken)")
                let invalid = try await daemon.jobctl("submit", "--batch", "-", input: "{\"argv\": [\"true\"]}\n{\"argv\": []}\n")
                #expect(invalid.status == 65 && invalid.stderr.contains("the request's job at index 1 (counting from 0) is invalid"), "\(invalid)")
                #expect(try await daemon.status().total.succeeded == 3, "an invalid batch stores nothing")
            }
        }

        @Test func waitReadsIdsFromStdin() async throws {
            try await DaemonProcess.with { daemon in
                let ids = try await daemon.jobctl(
                    "submit", "--batch", "-", input: "{\"kind\": \"noop\"}\n{\"argv\": [\"sh\", \"-c\", \"exit 4\"]}\n")
                #expect(ids.stdout == "1\n2\n", "\(ids)")
                let waited = try await daemon.jobctl("wait", "-", input: ids.stdout)
                #expect(waited.status == 4, "the first failure's code: \(waited)")
                #expect(try await daemon.jobctl("wait", "-", input: "1 1\n").status == 0)
                let garbage = try await daemon.jobctl("wait", "-", input: "1 x\n")
                #expect(garbage.status == 65 && garbage.stderr.contains("x is not a job id"), "\(garbage)")
                #expect(try await daemon.jobctl("wait", "-", input: "").status == 65)
                #expect(try await daemon.jobctl("wait", "nine").status == 64)
            }
        }
    }
}
