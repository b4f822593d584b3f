import Foundation
import JobdProtocol
import JobdTestSupport
import Testing

extension AgainstTheRealDaemon {
    /// Issue 13's tour through jobctl, with the real jobd: what a user of Sidekiq, pueue or task-spooler
    /// reaches for first.
    @Suite struct JobSemanticsTourTests {
        private func id(_ result: CommandResult) throws -> String {
            let text = result.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
            #expect(result.status == 0 && Int(text) != nil, "\(result)")
            return text
        }

        @Test func delaysRetriesDependenciesAndUniqueKeysThroughJobctl() async throws {
            try await DaemonProcess.with { daemon in
                let delayed = try id(try await daemon.jobctl("submit", "--delay", "500ms", "--", "true"))
                #expect(try await daemon.jobctl("show", delayed).stdout.contains("scheduled"))
                // A local wall-clock time 30 days ahead, as a person types it.
                let formatter = DateFormatter()
                formatter.dateFormat = "yyyy-MM-dd'T'HH:mm"
                formatter.timeZone = .current
                let ahead = Date().addingTimeInterval(30 * 86_400)
                let later = try await daemon.jobctl("submit", "--at", formatter.string(from: ahead), "--", "true")
                let laterJob = try await daemon.job(JobID(Int64(try id(later))!))
                let runAt = try #require(laterJob.runAt)
                #expect(laterJob.state == .scheduled)
                #expect(abs(runAt.secondsSinceEpoch - ahead.timeIntervalSince1970) < 61, "read as local time: \(runAt)")
                let tooFar = try await daemon.jobctl("submit", "--at", "2099-01-01T03:00Z", "--", "true")
                #expect(tooFar.status == 65 && tooFar.stderr.contains("more than 365 days ahead"), "\(tooFar)")

                let marker = daemon.directory.file("second")
                let flaky = try id(
                    try await daemon.jobctl(
                        "submit", "--retries", "2", "--backoff", "fixed", "--backoff-delay", "100ms", "--",
                        "sh", "-c", "[ -e \(marker) ] && exit 0; touch \(marker); exit 5"))
                let after = try id(try await daemon.jobctl("submit", "--after", flaky, "--after", delayed, "--", "true"))
                let waited = try await daemon.jobctl("wait", after)
                #expect(waited.status == 0, "\(waited)")
                let shown = try await daemon.jobctl("show", flaky)
                #expect(shown.stdout.contains("ATTEMPT") && shown.stdout.contains("exit 5") && shown.stdout.contains("exit 0"),
                    "show lists every attempt: \(shown)")

                let first = try await daemon.jobctl("submit", "--unique", "nightly", "--delay", "1h", "--", "true")
                let again = try await daemon.jobctl("submit", "--unique", "nightly", "--", "true")
                #expect(again.stdout == first.stdout, "the unfinished job's id, nothing new")
                #expect(again.stderr.contains("holds this unique key"), "\(again)")
            }
        }

        @Test func queuesPausesAndRetryThroughJobctl() async throws {
            try await DaemonProcess.with { daemon in
                #expect(try await daemon.jobctl("queue", "limit", "media", "1").status == 0)
                #expect(try await daemon.jobctl("pause", "cpu").status == 0)
                let held = try id(try await daemon.jobctl("submit", "--cpu", "--queue", "media", "--", "true"))
                let status = try await daemon.jobctl("status")
                #expect(status.stdout.contains("paused: cpu") && status.stdout.contains("media"), "\(status)")
                #expect(try await daemon.jobctl("show", held).stdout.contains("queued"))
                #expect(try await daemon.jobctl("resume", "cpu").status == 0)
                #expect(try await daemon.jobctl("wait", held).status == 0)

                let failing = try id(try await daemon.jobctl("submit", "--", "false"))
                #expect(try await daemon.jobctl("wait", failing).status == 1)
                let retried = try await daemon.jobctl("retry", failing)
                #expect(retried.stdout == "\(failing) queued\n", "\(retried)")
                _ = try await daemon.jobctl("wait", failing)
                #expect(try await daemon.job(JobID(Int64(failing)!)).attempts == 2)
            }
        }

        @Test func anUnknownOptionBeforeTheCommandIsAnErrorAndHelpIsHelp() async throws {
            try await DaemonProcess.with { daemon in
                let unknown = try await daemon.jobctl("submit", "--dealy", "10s", "--", "true")
                #expect(unknown.status == 64 && unknown.stderr.contains("unknown option --dealy"), "\(unknown)")
                let help = try await daemon.jobctl("submit", "--help")
                #expect(help.status == 0 && help.stdout.contains("USAGE"), "\(help)")
                #expect(try await daemon.status().total.queued == 0, "no job named --dealy or --help")
            }
        }
    
        @Test func cancelByQueueAsksFirstAndBigBatchesAreSplitOrRefused() async throws {
            try await DaemonProcess.with { daemon in
                for _ in 0..<3 { _ = try await daemon.jobctl("submit", "--queue", "media", "--delay", "1h", "--", "true") }
                let other = try id(try await daemon.jobctl("submit", "--delay", "1h", "--", "true"))
                let unconfirmed = try await daemon.jobctl("cancel", "--queue", "media")
                #expect(unconfirmed.status == 65 && unconfirmed.stderr.contains("pass --yes"), "\(unconfirmed)")
                #expect(try await daemon.status().total.cancelled == 0)
                let cancelled = try await daemon.jobctl("cancel", "--queue", "media", "--yes")
                #expect(cancelled.status == 0 && cancelled.stdout.split(separator: "\n").count == 3, "\(cancelled)")
                #expect(try await daemon.job(JobID(Int64(other)!)).state == .scheduled, "another queue's job stays")

                // 3,000 lines of ~500 bytes: more than one message.
                let padding = String(repeating: "x", count: 480)
                let big = (0..<3000).map { _ in #"{"argv": ["true", "\#(padding)"], "class": "io"}"# }.joined(separator: "\n")
                let split = try await daemon.jobctl("submit", "--batch", "-", input: big + "\n")
                #expect(split.status == 0 && split.stdout.split(separator: "\n").count == 3000, "\(split.stderr)")
                #expect(split.stderr.contains("sent in 2 calls"), "\(split.stderr)")
                let linked = big + "\n" + #"{"argv": ["true"], "after_index": [0]}"# + "\n"
                let refused = try await daemon.jobctl("submit", "--batch", "-", input: linked)
                #expect(refused.status == 65 && refused.stderr.contains("after_index"), "\(refused.stderr)")
            }
        }

        @Test func aCommandWithANewlineStaysOnOneLineOfTheList() async throws {
            try await DaemonProcess.with { daemon in
                _ = try await daemon.jobctl("submit", "--delay", "1h", "--", "printf", "a\nb")
                let list = try await daemon.jobctl("list")
                let lines = list.stdout.split(separator: "\n")
                #expect(lines.count == 2, "header and one row: \(list.stdout)")
                #expect(list.stdout.contains(#"printf $'a\nb'"#), "\(list.stdout)")
            }
        }
    }
}
