import Foundation
import JobdProtocol
import JobdTestSupport
import JobdVarlinkNIO
import Testing

extension AgainstTheRealDaemon {
    /// Growth without bound (issue 9 item 10): the output limit holds for a job's whole log, and finished
    /// jobs and their logs are pruned, after the retention period or on demand.
    @Suite struct RetentionTests {
        /// Sends one raw message and returns the raw reply as a JSON object.
        private func rawCall(_ daemon: DaemonProcess, _ json: String) async throws -> [String: Any] {
            let reply = try await daemon.connect { connection in
                try await connection.sendRaw(Array(json.utf8))
                return try #require(try await connection.nextRawReply(), "no reply to \(json)")
            }
            return try #require(try JSONSerialization.jsonObject(with: Data(reply)) as? [String: Any])
        }

        /// Whether the daemon still has the job (Get answers it rather than JobNotFound).
        private func exists(_ daemon: DaemonProcess, _ id: JobID) async throws -> Bool {
            let reply = try await rawCall(daemon, #"{"method": "io.jobd.Get", "parameters": {"id": \#(id.rawValue)}}"#)
            if reply["error"] as? String == "io.jobd.JobNotFound" { return false }
            guard reply["parameters"] != nil else { throw TimedOut("Get of job \(id) failed: \(reply)") }
            return true
        }

        private func logPath(_ daemon: DaemonProcess, _ id: JobID) -> String { daemon.directory.file("logs/\(id).log") }

        // MARK: - The output limit

        /// Before: each attempt counted its output from 0 and appended to the one log, so 3 attempts of
        /// 800 bytes left 2,400 bytes under a 1,000-byte limit, and a retry loop filled the disk.
        @Test(arguments: [JobClass.cpu, .io])
        func theOutputLimitHoldsForTheWholeLogAcrossAttempts(jobClass: JobClass) async throws {
            try await DaemonProcess.with(arguments: ["--output-limit", "1000"]) { daemon in
                let ids = try await daemon.submit([
                    JobSpec(
                        argv: ["sh", "-c", #"head -c 800 /dev/zero | tr "\0" x; exit 1"#], class: jobClass,
                        maxAttempts: 3, backoffSeconds: 0)
                ])
                let job = try #require(try await daemon.wait(ids).first)
                #expect(job.state == .dead && job.attempts == 3, "every attempt ran: \(job)")
                let size = try #require(
                    try FileManager.default.attributesOfItem(atPath: logPath(daemon, job.id))[.size] as? Int)
                let indexSize = try #require(
                    try FileManager.default.attributesOfItem(atPath: daemon.directory.file("logs/\(job.id).idx"))[.size]
                        as? Int)
                #expect(size + indexSize <= 1000, "the log and its index hold at most the limit across attempts")
                // One run of stdout per attempt, each costing a 12-byte index record: 12 + 800, then 12 + 176.
                #expect(size == 976 && indexSize == 24, "the first attempt's 800 bytes and 176 of the second's")
                let logs = try await daemon.connect {
                    try await $0.call(Logs.method, Logs.Parameters(id: job.id), returning: Logs.Reply.self)
                }
                #expect(logs.truncated, "logs says output was dropped")
                #expect(logs.text.utf8.count == 976)
            }
        }

        // MARK: - Retention

        @Test func retentionRemovesFinishedJobsAndTheirLogsButNotRunningOrQueuedOnes() async throws {
            try await DaemonProcess.with(arguments: ["--retention", "1", "--cpu-workers", "1"]) { daemon in
                // One CPU slot: the sleep runs, a second is queued in the worker, the job after them stays queued.
                let running = try await daemon.submit([JobSpec(argv: ["sleep", "300"], class: .cpu)])[0]
                try await eventually("the sleep runs") { try await daemon.job(running).state == .running ? true : nil }
                let handed = try await daemon.submit([JobSpec(argv: ["sleep", "300"], class: .cpu)])[0]
                try await eventually("the second is handed over") {
                    try await daemon.status().workers.first?.queued == 1 ? true : nil
                }
                let queued = try await daemon.submit([JobSpec(argv: ["true"], class: .cpu)])[0]
                let finished = try await daemon.submit([
                    JobSpec(argv: ["sh", "-c", "echo done"], class: .io),
                    JobSpec(argv: ["sh", "-c", "echo failed; exit 3"], class: .io),
                ])
                let ended = try await daemon.wait(finished)
                #expect(ended.map(\.state) == [.succeeded, .failed])

                try await eventually("the finished jobs are pruned", within: .seconds(10)) { () -> Bool? in
                    for id in finished where try await exists(daemon, id) { return nil }
                    return true
                }
                for id in finished {
                    #expect(!FileManager.default.fileExists(atPath: logPath(daemon, id)), "the log of job \(id) is gone")
                    #expect(!FileManager.default.fileExists(atPath: daemon.directory.file("logs/\(id).idx")), "and its index")
                }
                // Older than the retention too, but not finished: never pruned.
                #expect(try await daemon.job(running).state == .running)
                #expect(try await daemon.job(queued).state == .queued)
                let status = try await daemon.status()
                #expect(status.io.succeeded == 0 && status.io.failed == 0, "the kept counts lose the pruned jobs: \(status.io)")
                #expect(status.cpu.running == 1 && status.cpu.queued == 2, "one runs, one waits in the worker, one in jobd: \(status.cpu)")
                #expect(status.total.succeeded == 0 && status.total.failed == 0, "\(status.total)")

                _ = try await daemon.jobctl("cancel", queued.description, handed.description, running.description)
            }
        }

        @Test func aRetentionThatIsNotADurationIsRefusedAtStart() async throws {
            for bad in ["-1", "soon", "1e400"] {
                let refused = try await runProgram(Binaries.jobd, ["--retention", bad, "--socket", "/nonexistent/jobd.sock"])
                #expect(refused.status == 64 && refused.stderr.contains("--retention"), "\(bad): \(refused)")
            }
        }

        // MARK: - On demand

        @Test func pruneByStateRemovesOnlyThoseAndTheCountsDrop() async throws {
            try await DaemonProcess.with { daemon in
                let ids = try await daemon.submit([
                    JobSpec(argv: ["sh", "-c", "echo no; exit 1"], class: .io),
                    JobSpec(argv: ["true"], class: .io),
                ])
                _ = try await daemon.wait(ids)
                #expect(FileManager.default.fileExists(atPath: logPath(daemon, ids[0])))
                let before = try await daemon.status()
                #expect(before.io.failed == 1 && before.io.succeeded == 1, "\(before.io)")

                let pruned = try await daemon.jobctl("prune", "--state", "failed")
                #expect(pruned.status == 0 && pruned.output == "1", "\(pruned)")
                #expect(try await !exists(daemon, ids[0]))
                #expect(!FileManager.default.fileExists(atPath: logPath(daemon, ids[0])))
                #expect(try await exists(daemon, ids[1]), "a succeeded job stays")
                let after = try await daemon.status()
                #expect(after.io.failed == 0 && after.io.succeeded == 1, "\(after.io)")

                let tooRecent = try await daemon.jobctl("prune", "--older-than", "1d")
                #expect(tooRecent.output == "0", "a job of a moment ago is not a day old: \(tooRecent)")
                #expect(try await exists(daemon, ids[1]))

                let notFinished = try await daemon.jobctl("prune", "--state", "running")
                #expect(notFinished.status == 64, "only finished states may be pruned: \(notFinished)")
                let badAge = try await daemon.jobctl("prune", "--older-than", "soon")
                #expect(badAge.status == 64, "\(badAge)")
                // Zero in any unit is "however recent" (issue 19: `0s` was refused while `0` worked).
                let zeroSeconds = try await daemon.jobctl("prune", "--older-than", "0s")
                #expect(zeroSeconds.status == 0 && zeroSeconds.output == "1", "\(zeroSeconds)")
                #expect(try await !exists(daemon, ids[1]))
            }
        }

        @Test(.enabled(if: getuid() == 0, "needs root: runs jobctl as nobody with setpriv"))
        func aUserPrunesOnlyTheirOwnJobsRootPrunesAll() async throws {
            try await DaemonProcess.with { daemon in
                let nobody = try NobodyClient(daemon)
                let rootJob = try await daemon.submit([JobSpec(argv: ["false"], class: .io)])[0]
                let nobodysJob = try jobID(
                    printedBy: try await nobody.run(["submit", "--json", "--io", "--cwd", "/", "--", "/bin/false"]))
                _ = try await daemon.wait([rootJob, nobodysJob])

                let byNobody = try await nobody.run(["prune"])
                #expect(byNobody.status == 0 && byNobody.output == "1", "\(byNobody)")
                #expect(try await !exists(daemon, nobodysJob))
                #expect(try await exists(daemon, rootJob), "nobody cannot prune root's job")

                let byRoot = try await daemon.jobctl("prune")
                #expect(byRoot.output == "1", "\(byRoot)")
                #expect(try await !exists(daemon, rootJob))
            }
        }

        @Test func badPruneParametersAreInvalidParameterNamingTheField() async throws {
            try await DaemonProcess.with { daemon in
                let id = try await daemon.submit([JobSpec(argv: ["true"], class: .io)])[0]
                _ = try await daemon.wait([id])
                for (parameters, field) in [
                    (#"{"older_than_seconds": -1}"#, "older_than_seconds"),
                    (#"{"older_than_seconds": "x"}"#, "older_than_seconds"),
                    (#"{"states": ["queued"]}"#, "states"),
                    (#"{"states": ["running", "failed"]}"#, "states"),
                    (#"{"states": []}"#, "states"),
                ] {
                    let reply = try await rawCall(daemon, #"{"method": "io.jobd.Prune", "parameters": \#(parameters)}"#)
                    #expect(reply["error"] as? String == "org.varlink.service.InvalidParameter", "\(parameters): \(reply)")
                    #expect((reply["parameters"] as? [String: Any])?["parameter"] as? String == field, "\(parameters)")
                }
                #expect(try await exists(daemon, id), "a refused prune deletes nothing")
                let all = try await rawCall(daemon, #"{"method": "io.jobd.Prune"}"#)
                #expect((all["parameters"] as? [String: Any])?["pruned"] as? Int == 1, "\(all)")
            }
        }

        /// Wait checks the ids, waits, then reads the records: a job pruned in between is JobNotFound, not
        /// a trap or a hung call, and the connection carries on.
        @Test func aJobPrunedWhileAWaitIsPendingIsJobNotFound() async throws {
            try await DaemonProcess.with { daemon in
                let release = daemon.directory.file("release")
                let done = try await daemon.submit([JobSpec(argv: ["true"], class: .io)])[0]
                _ = try await daemon.wait([done])
                let blocked = try await daemon.submit([
                    JobSpec(argv: ["sh", "-c", "while [ ! -e \(release) ]; do sleep 0.02; done"], class: .io)
                ])[0]
                try await daemon.connect { connection in
                    let ids = "[\(done.rawValue), \(blocked.rawValue)]"
                    try await connection.sendRaw(Array(#"{"method": "io.jobd.Wait", "parameters": {"ids": \#(ids)}}"#.utf8))
                    #expect(try await daemon.jobctl("prune").output == "1", "the finished one goes, the running one stays")
                    #expect(FileManager.default.createFile(atPath: release, contents: nil))
                    let reply = try #require(try await connection.nextRawReply())
                    let object = try #require(try JSONSerialization.jsonObject(with: Data(reply)) as? [String: Any])
                    #expect(object["error"] as? String == "io.jobd.JobNotFound", "\(object)")
                    #expect((object["parameters"] as? [String: Any])?["id"] as? Int == Int(done.rawValue))
                    let ping = try await connection.call(Ping.method, Ping.Parameters(), returning: Ping.Reply.self)
                    #expect(!ping.version.isEmpty)
                }
                #expect(try await daemon.job(blocked).state == .succeeded)
            }
        }

        @Test func aWaitForAPrunedJobIsJobNotFound() async throws {
            try await DaemonProcess.with { daemon in
                let id = try await daemon.submit([JobSpec(argv: ["true"], class: .io)])[0]
                _ = try await daemon.wait([id])
                #expect(try await daemon.jobctl("prune").output == "1")
                let reply = try await rawCall(daemon, #"{"method": "io.jobd.Wait", "parameters": {"ids": [\#(id.rawValue)]}}"#)
                #expect(reply["error"] as? String == "io.jobd.JobNotFound", "\(reply)")
                let waited = try await daemon.jobctl("wait", id.description)
                #expect(waited.status == 66, "\(waited)")
            }
        }
    }
}
