import Foundation
import JobdClient
import JobdProtocol
import JobdTestSupport
import Testing

extension AgainstTheRealDaemon {
    /// Delays and retries with backoff (issue 13): `scheduled` until due, one timer, across restarts.
    @Suite struct DelayAndRetryTests {
        @Test func aDelayedJobIsScheduledUntilItsTimeThenRuns() async throws {
            try await DaemonProcess.with { daemon in
                let submitted = ContinuousClock.now
                let ids = try await daemon.submit([
                    JobSpec(argv: ["true"], delaySeconds: 0.8), JobSpec(argv: ["true"], class: .io),
                ])
                let waiting = try await daemon.job(ids[0])
                #expect(waiting.state == .scheduled && waiting.runAt != nil, "\(waiting)")
                #expect(try await daemon.status().total.scheduled == 1)
                let done = try await daemon.wait(ids)
                #expect(done.allSatisfy { $0.state == .succeeded })
                #expect(ContinuousClock.now - submitted >= .milliseconds(800), "not before its time")
                let started = try #require(done[0].startedAt)
                let runAt = try #require(waiting.runAt)
                #expect(started.secondsSinceEpoch >= runAt.secondsSinceEpoch - 0.01)
                #expect(try await daemon.status().total.scheduled == 0)
            }
        }

        @Test func runAtInThePastRunsAtOnceAndBothTimesAtOnceIsRefused() async throws {
            try await DaemonProcess.with { daemon in
                let id = try await daemon.submit([JobSpec(argv: ["true"], runAt: Timestamp(secondsSinceEpoch: 1000))])[0]
                #expect(try await daemon.wait([id])[0].state == .succeeded)
                await #expect(throws: (any Error).self) {
                    _ = try await daemon.submit([
                        JobSpec(argv: ["true"], runAt: Timestamp(secondsSinceEpoch: 1000), delaySeconds: 1)
                    ])
                }
                await #expect(throws: (any Error).self) {
                    _ = try await daemon.submit([JobSpec(argv: ["true"], delaySeconds: 1e12)])
                }
            }
        }

        @Test func aCancelledScheduledJobNeverRuns() async throws {
            try await DaemonProcess.with { daemon in
                let marker = daemon.directory.file("ran")
                let id = try await daemon.submit([JobSpec(argv: ["touch", marker], delaySeconds: 0.5)])[0]
                _ = try await daemon.jobctl("cancel", id.description)
                let job = try await daemon.wait([id])[0]
                #expect(job.state == .cancelled)
                let later = try await daemon.submit([JobSpec(argv: ["true"], delaySeconds: 0.7)])
                _ = try await daemon.wait(later)
                #expect(!FileManager.default.fileExists(atPath: marker), "the cancelled job stayed off the timer")
                let row = try await daemon.jobctl("list").stdout.split(separator: "\n").first { $0.hasPrefix("\(id) ") }
                #expect(row?.contains("not run") == true, "list says it never ran: \(String(describing: row))")
            }
        }

        @Test func aDelayedJobSurvivesARestartAndRunsWhenDue() async throws {
            try await DaemonProcess.with { daemon in
                let soon = try await daemon.submit([JobSpec(argv: ["true"], delaySeconds: 1)])[0]
                let later = try await daemon.submit([JobSpec(argv: ["true"], delaySeconds: 300)])[0]
                #expect(try await daemon.terminate() == 0)
                try await daemon.start()
                #expect(try await daemon.job(later).state == .scheduled)
                #expect(try await daemon.status().total.scheduled >= 1)
                #expect(try await daemon.wait([soon])[0].state == .succeeded, "due after the restart: it runs")
                #expect(try await daemon.job(later).state == .scheduled, "the far one still waits")
            }
        }

        @Test func retriesWaitOutTheirBackoffAndEveryAttemptIsKept() async throws {
            try await DaemonProcess.with { daemon in
                let started = ContinuousClock.now
                let id = try await daemon.submit([
                    JobSpec(argv: ["sh", "-c", "exit 3"], maxAttempts: 3, backoff: .fixed, backoffSeconds: 0.3)
                ])[0]
                try await eventually("between attempts the job is scheduled") { () -> Bool? in
                    let job = try await daemon.job(id)
                    return job.state == .scheduled && job.attempts >= 1 ? true : nil
                }
                let job = try await daemon.wait([id])[0]
                #expect(job.state == .dead && job.attempts == 3 && job.exitCode == 3)
                #expect(ContinuousClock.now - started >= .milliseconds(600), "two pauses of 0.3 s")
            }
        }

        /// `jobctl show --json` is the job's object with every attempt in `attempt_records` (issue 13);
        /// `attempts` stays the number that scripts read.
        @Test func showJSONListsEveryAttemptWithItsOutcome() async throws {
            try await DaemonProcess.with { daemon in
                let marker = daemon.directory.file("tried")
                // Fails twice (exit 5, then killed by SIGTERM), then succeeds.
                let script = "echo x >> \(marker); n=$(wc -l < \(marker)); "
                    + "[ $n -eq 1 ] && exit 5; [ $n -eq 2 ] && kill -TERM $$; exit 0"
                let id = try await daemon.submit([
                    JobSpec(argv: ["sh", "-c", script], maxAttempts: 4, backoff: .fixed, backoffSeconds: 0.1)
                ])[0]
                #expect(try await daemon.wait([id])[0].state == .succeeded)
                let shown = try await daemon.jobctl("show", "--json", id.description)
                #expect(shown.status == 0, "\(shown)")
                let object = try #require(
                    try JSONSerialization.jsonObject(with: Data(shown.stdout.utf8)) as? [String: Any], "\(shown)")
                #expect(object["attempts"] as? Int == 3, "the count stays a number")
                #expect(object["state"] as? String == "succeeded" && object["exit_code"] as? Int == 0)
                let records = try #require(object["attempt_records"] as? [[String: Any]], "\(object)")
                #expect(records.map { $0["number"] as? Int } == [1, 2, 3])
                #expect(records[0]["exit_code"] as? Int == 5 && records[0]["error"] as? String == "exited with code 5")
                #expect(records[1]["signal"] as? Int == 15 && records[1]["exit_code"] == nil, "\(records[1])")
                #expect(records[2]["exit_code"] as? Int == 0 && records[2]["error"] == nil)
                #expect(records.allSatisfy { $0["started_at"] is String && $0["finished_at"] is String })
                #expect(records.allSatisfy { $0["wall_seconds"] is NSNumber }, "each with its outcome")
            }
        }

        @Test func aJobWaitingOutItsBackoffAtARestartRetriesAfterIt() async throws {
            try await DaemonProcess.with { daemon in
                let marker = daemon.directory.file("runs")
                let script = "echo run >> \(marker); [ $(wc -l < \(marker)) -ge 2 ]"
                let id = try await daemon.submit([
                    JobSpec(argv: ["sh", "-c", script], maxAttempts: 2, backoff: .fixed, backoffSeconds: 1)
                ])[0]
                try await eventually("the first attempt failed and waits") { () -> Bool? in
                    try await daemon.job(id).state == .scheduled ? true : nil
                }
                try await daemon.killHard()
                try await daemon.start()
                let job = try await daemon.wait([id])[0]
                #expect(job.state == .succeeded && job.attempts == 2)
            }
        }
    
        @Test func retryQueuesAFailedJobAgainAndKeepsItsHistory() async throws {
            try await DaemonProcess.with { daemon in
                let marker = daemon.directory.file("fixed")
                let id = try await daemon.submit([JobSpec(argv: ["sh", "-c", "[ -e \(marker) ] || exit 7"])])[0]
                let failed = try await daemon.wait([id])[0]
                #expect(failed.state == .failed && failed.exitCode == 7)
                FileManager.default.createFile(atPath: marker, contents: nil)
                let queued = try await daemon.connect {
                    try await $0.call(Retry.method, Retry.Parameters(id: id), returning: Retry.Reply.self).job
                }
                #expect(queued.state == .queued && queued.maxAttempts == 2)
                let done = try await daemon.wait([id])[0]
                #expect(done.state == .succeeded && done.attempts == 2 && done.exitCode == 0)
                let attempts = try await daemon.connect {
                    try await $0.call(Attempts.method, Attempts.Parameters(id: id), returning: Attempts.Reply.self).attempts
                }
                #expect(attempts.map(\.number) == [1, 2])
                #expect(attempts[0].outcome?.exitCode == 7 && attempts[0].outcome?.error == "exited with code 7")
                #expect(attempts[1].outcome?.exitCode == 0)
                await #expect(throws: (any Error).self, "a succeeded job is not retried") {
                    _ = try await daemon.connect {
                        try await $0.call(Retry.method, Retry.Parameters(id: id), returning: Retry.Reply.self)
                    }
                }
                let status = try await daemon.status()
                #expect(status.total.failed == 0 && status.total.succeeded == 1, "\(status.total)")
            }
        }

        /// A retried job is due from the retry, not from its first submit: among jobs of its priority it
        /// goes behind those queued before the retry (ties by due time, then id). Due times are whole
        /// seconds, so the retry comes a second after the job queued before it.
        @Test func aRetriedJobGoesBehindJobsQueuedBeforeTheRetry() async throws {
            try await DaemonProcess.with(arguments: ["--io-concurrency", "1"]) { daemon in
                let failing = try await daemon.submit([JobSpec(argv: ["sh", "-c", "exit 3"], class: .io)])[0]
                _ = try await daemon.wait([failing])
                let gate = daemon.directory.file("gate")
                let blocker = try await daemon.submit([
                    JobSpec(argv: ["sh", "-c", "while [ ! -e \(gate) ]; do sleep 0.02; done"], class: .io)
                ])[0]
                try await eventually("the blocker runs") { try await daemon.job(blocker).state == .running ? true : nil }
                let queuedFirst = try await daemon.submit([JobSpec(argv: ["true"], class: .io)])[0]
                let submitted = try await daemon.job(queuedFirst).createdAt.secondsSinceEpoch
                try await eventually("the next second") {
                    Date().timeIntervalSince1970 >= submitted.rounded(.down) + 1 ? true : nil
                }
                #expect(try await daemon.jobctl("retry", failing.description).status == 0)
                FileManager.default.createFile(atPath: gate, contents: nil)
                let ended = try await daemon.wait([queuedFirst, failing])
                let started = ended.map { $0.startedAt?.secondsSinceEpoch ?? 0 }
                #expect(started[0] < started[1], "job \(queuedFirst), queued before the retry, starts first: \(started)")
            }
        }
    }
}
