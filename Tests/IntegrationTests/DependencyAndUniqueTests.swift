import Foundation
import JobdClient
import JobdProtocol
import JobdTestSupport
import Testing

extension AgainstTheRealDaemon {
    /// Dependencies and unique keys (issue 13).
    @Suite struct DependencyAndUniqueTests {
        private func submitReply(_ daemon: DaemonProcess, _ specs: [JobSpec]) async throws -> Submit.Reply {
            try await daemon.connect {
                try await $0.call(Submit.method, Submit.Parameters(jobs: specs), returning: Submit.Reply.self)
            }
        }

        @Test func aPipelineInOneCallRunsInOrder() async throws {
            try await DaemonProcess.with { daemon in
                let file = daemon.directory.file("steps")
                func step(_ name: String) -> [String] { ["sh", "-c", "sleep 0.1; echo \(name) >> \(file)"] }
                let ids = try await daemon.submit([
                    JobSpec(argv: step("a")),
                    JobSpec(argv: step("b"), class: .io, afterIndex: [0]),
                    JobSpec(argv: step("c"), afterIndex: [1]),
                    JobSpec(argv: step("d"), afterIndex: [0, 1, 2]),
                ])
                #expect(try await daemon.job(ids[1]).state == .scheduled, "waiting for job \(ids[0])")
                let jobs = try await daemon.wait(ids)
                #expect(jobs.allSatisfy { $0.state == .succeeded }, "\(jobs)")
                #expect(try String(contentsOfFile: file, encoding: .utf8) == "a\nb\nc\nd\n")
                for (earlier, later) in zip(jobs, jobs.dropFirst()) {
                    let end = try #require(earlier.finishedAt)
                    let start = try #require(later.startedAt)
                    #expect(start >= end, "job \(later.id) started after job \(earlier.id) ended")
                }
            }
        }

        /// `show` says what a waiting job still waits for: the jobs that have not succeeded yet.
        @Test func showSaysWhatAJobStillWaitsFor() async throws {
            try await DaemonProcess.with { daemon in
                let gate = daemon.directory.file("gate")
                let first = try await daemon.submit([JobSpec(argv: ["true"])])[0]
                _ = try await daemon.wait([first])
                let slow = try await daemon.submit([JobSpec(argv: ["sh", "-c", "while [ ! -e \(gate) ]; do sleep 0.02; done"])])[0]
                let waiting = try await daemon.submit([JobSpec(argv: ["true"], after: [first, slow])])[0]
                let show = try await daemon.jobctl("show", waiting.description)
                #expect(show.stdout.contains("waits for  job \(slow) (to succeed)"), "only the one not yet succeeded: \(show)")
                let json = try await daemon.jobctl("show", "--json", waiting.description)
                let object = try #require(try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any])
                #expect(object["waits_for"] as? [Int] == [Int(slow.rawValue)], "\(object)")
                FileManager.default.createFile(atPath: gate, contents: nil)
                _ = try await daemon.wait([waiting])
                #expect(!(try await daemon.jobctl("show", waiting.description).stdout.contains("waits for")))
            }
        }

        @Test func aFailureCancelsWhatWaitsForItTransitively() async throws {
            try await DaemonProcess.with { daemon in
                let marker = daemon.directory.file("ran")
                let first = try await daemon.submit([JobSpec(argv: ["sh", "-c", "sleep 0.3; exit 4"])])[0]
                let ids = try await daemon.submit([
                    JobSpec(argv: ["touch", marker], after: [first]),
                    JobSpec(argv: ["touch", marker], afterIndex: [0]),
                    JobSpec(argv: ["true"]),  // waits for nothing: unaffected
                ])
                let jobs = try await daemon.wait([first] + ids)
                #expect(jobs[0].state == .failed)
                #expect(jobs[1].state == .cancelled && jobs[2].state == .cancelled)
                #expect(jobs[1].error == "cancelled: job \(first), which it waits for, ended failed", "\(jobs[1])")
                // The next one down the chain names the job it waited for, not the first (issue 18).
                #expect(jobs[2].error == "cancelled: job \(ids[0]), which it waits for, ended cancelled", "\(jobs[2])")
                #expect(jobs[3].state == .succeeded)
                #expect(!FileManager.default.fileExists(atPath: marker))
                let status = try await daemon.status()
                #expect(status.total.cancelled == 2 && status.total.scheduled == 0, "\(status.total)")
            }
        }

        @Test func cancellingAJobCancelsWhatWaitsForIt() async throws {
            try await DaemonProcess.with { daemon in
                let first = try await daemon.submit([JobSpec(argv: ["true"], delaySeconds: 300)])[0]
                let second = try await daemon.submit([JobSpec(argv: ["true"], after: [first])])[0]
                _ = try await daemon.jobctl("cancel", first.description)
                let jobs = try await daemon.wait([first, second])
                #expect(jobs.map(\.state) == [.cancelled, .cancelled])
            }
        }

        @Test func unknownAndEndedDependenciesAreRefusedAtSubmit() async throws {
            try await DaemonProcess.with { daemon in
                let failed = try await daemon.submit([JobSpec(argv: ["false"])])[0]
                _ = try await daemon.wait([failed])
                let unknown = try await daemon.jobctl(
                    "submit", "--batch", "-", input: #"{"argv": ["true"], "after": [999]}"# + "\n")
                #expect(unknown.status == 65 && unknown.stderr.contains("you have no job 999"), "\(unknown)")
                let ended = try await daemon.jobctl(
                    "submit", "--batch", "-", input: #"{"argv": ["true"], "after": [\#(failed)]}"# + "\n")
                #expect(ended.status == 65 && ended.stderr.contains("ended failed, so it could never run"), "\(ended)")
                let forward = try await daemon.jobctl(
                    "submit", "--batch", "-", input: #"{"argv": ["true"], "after_index": [0]}"# + "\n")
                #expect(forward.status == 65 && forward.stderr.contains("after_index 0 names no earlier job"), "\(forward)")
                #expect(try await daemon.status().total.queued == 0, "nothing was stored")
            }
        }

        @Test(.enabled(if: getuid() == 0, "submits as nobody with setpriv, which needs root"))
        func anotherUsersJobCannotBeWaitedForAndKeysArePerUser() async throws {
            try await DaemonProcess.with { daemon in
                chmod(daemon.directory.path, 0o755)
                let roots = try await submitReply(daemon, [JobSpec(argv: ["true"], delaySeconds: 300, uniqueKey: "nightly")])
                func asNobody(_ line: String) async throws -> CommandResult {
                    try await runProgram(
                        "/usr/bin/setpriv",
                        ["--reuid=65534", "--regid=65534", "--clear-groups", Binaries.jobctl, "--socket", daemon.socket,
                         "submit", "--batch", "-"], input: line + "\n")
                }
                let after = try await asNobody(#"{"argv": ["true"], "after": [\#(roots.ids[0])]}"#)
                #expect(after.status == 65 && after.stderr.contains("you have no job \(roots.ids[0])"), "\(after)")
                let keyed = try await asNobody(#"{"argv": ["true"], "delay_seconds": 300, "unique_key": "nightly"}"#)
                #expect(keyed.status == 0, "\(keyed)")
                #expect(!keyed.stdout.contains("\(roots.ids[0])"), "another user's key is another key: \(keyed)")
            }
        }

        @Test func aUniqueKeyReturnsTheUnfinishedJobAndConcurrentSubmitsStoreOne() async throws {
            try await DaemonProcess.with { daemon in
                let gate = daemon.directory.file("gate")
                let first = try await submitReply(
                    daemon, [JobSpec(argv: ["sh", "-c", "while [ ! -e \(gate) ]; do sleep 0.05; done"], uniqueKey: "report")])
                #expect(first.existing == nil)
                let replies = try await withThrowingTaskGroup(of: Submit.Reply.self) { group in
                    for _ in 0..<20 {
                        group.addTask { try await submitReply(daemon, [JobSpec(argv: ["true"], uniqueKey: "report")]) }
                    }
                    return try await group.reduce(into: []) { $0.append($1) }
                }
                #expect(replies.allSatisfy { $0.ids == first.ids && $0.existing == first.ids }, "\(replies)")
                let sameBatch = try await submitReply(
                    daemon, [JobSpec(argv: ["true"], uniqueKey: "other"), JobSpec(argv: ["true"], uniqueKey: "other")])
                #expect(sameBatch.ids[0] == sameBatch.ids[1] && sameBatch.existing == [sameBatch.ids[0]])
                FileManager.default.createFile(atPath: gate, contents: nil)
                _ = try await daemon.wait(first.ids)
                let again = try await submitReply(daemon, [JobSpec(argv: ["true"], uniqueKey: "report")])
                #expect(again.ids != first.ids && again.existing == nil, "a finished job frees its key")
            }
        }

        @Test func whatAJobWaitsForSurvivesARestart() async throws {
            try await DaemonProcess.with { daemon in
                let file = daemon.directory.file("steps")
                let ids = try await daemon.submit([
                    JobSpec(argv: ["sh", "-c", "echo a >> \(file)"], delaySeconds: 1),
                    JobSpec(argv: ["sh", "-c", "echo b >> \(file)"], afterIndex: [0]),
                ])
                try await daemon.killHard()
                try await daemon.start()
                #expect(try await daemon.job(ids[1]).state == .scheduled)
                let jobs = try await daemon.wait(ids)
                #expect(jobs.allSatisfy { $0.state == .succeeded }, "\(jobs)")
                #expect(try String(contentsOfFile: file, encoding: .utf8) == "a\nb\n")
            }
        }
    }
}
