import Foundation
import JobdProtocol
import JobdTestSupport
import Testing

extension AgainstTheRealDaemon {
    /// Recurring jobs (issue 13): `jobctl schedule`, each due time once, across restarts.
    @Suite struct ScheduleTests {
        /// Jobs the schedule named `name` submitted so far.
        private func runs(_ daemon: DaemonProcess, _ name: String) async throws -> [Job] {
            try await daemon.connect {
                try await $0.call(List.method, List.Parameters(limit: 1000), returning: List.Reply.self).jobs
            }.filter { $0.name == name }
        }

        @Test func aScheduleFiresAtEachPeriodAndStopsWhenRemoved() async throws {
            try await DaemonProcess.with { daemon in
                let added = try await daemon.jobctl("schedule", "add", "tick", "--every", "1s", "--io", "--", "true")
                #expect(added.status == 0 && added.stdout.hasPrefix("tick: next at "), "\(added)")
                try await eventually("two runs", within: .seconds(6)) { try await runs(daemon, "tick").count >= 2 ? true : nil }
                let list = try await daemon.jobctl("schedule", "list")
                #expect(list.stdout.contains("tick") && list.stdout.contains("every 1.00s"), "\(list)")
                #expect(try await daemon.jobctl("schedule", "rm", "tick").status == 0)
                let count = try await runs(daemon, "tick").count
                try await staysFalse("a removed schedule fired", for: .milliseconds(1500)) {
                    try await runs(daemon, "tick").count > count
                }
                let jobs = try await runs(daemon, "tick")
                #expect(try await daemon.wait(jobs.map(\.id)).allSatisfy { $0.state == .succeeded })
                #expect(try await daemon.jobctl("schedule", "rm", "tick").status == 66, "no such schedule any more")
            }
        }

        @Test func missedDueTimesAreSkippedOrRunOnceAfterARestart() async throws {
            try await DaemonProcess.with { daemon in
                #expect(try await daemon.jobctl("schedule", "add", "skip", "--every", "2s", "--io", "--", "true").status == 0)
                #expect(
                    try await daemon.jobctl("schedule", "add", "once", "--every", "2s", "--catch-up", "--io", "--", "true").status == 0)
                try await eventually("both ran", within: .seconds(8)) { () -> Bool? in
                    let skip = try await runs(daemon, "skip").count
                    let once = try await runs(daemon, "once").count
                    return skip >= 1 && once >= 1 ? true : nil
                }
                #expect(try await daemon.terminate() == 0)
                try await Task.sleep(for: .seconds(4.5))  // jobd is down over two due times or more
                let restarted = Timestamp(secondsSinceEpoch: Date().timeIntervalSince1970)
                try await daemon.start()
                // Next due times are 2 s after the start: within the first second only a catch-up can run.
                func since(_ name: String) async throws -> Int {
                    try await runs(daemon, name).filter { $0.createdAt >= restarted }.count
                }
                try await eventually("the catch-up run") { try await since("once") >= 1 ? true : nil }
                #expect(try await since("once") == 1, "one catch-up run, not one per missed due time")
                #expect(try await since("skip") == 0, "no catch-up: the missed due times are skipped")
            }
        }

        /// `schedule add` takes submit's job options (one option group): retries, backoff, hooks, queue.
        @Test func aScheduleTakesSubmitsJobOptions() async throws {
            try await DaemonProcess.with { daemon in
                let added = try await daemon.jobctl(
                    "schedule", "add", "opts", "--every", "1h", "--io", "--queue", "nightly", "--priority", "7",
                    "--retries", "2", "--backoff", "fixed", "--backoff-delay", "250ms", "--on-failure", "echo failed",
                    "--timeout", "30s", "--", "true")
                #expect(added.status == 0, "\(added)")
                let schedules = try await daemon.connect {
                    try await $0.call(Schedules.method, Schedules.Parameters(), returning: Schedules.Reply.self).schedules
                }
                let job = try #require(schedules.first { $0.name == "opts" }?.job)
                #expect(job.class == .io && job.queue == "nightly" && job.priority == 7 && job.maxAttempts == 3)
                #expect(job.backoff == .fixed && job.backoffSeconds == 0.25 && job.onFailure == "echo failed")
                #expect(job.timeoutSeconds == 30 && job.name == "opts" && job.argv == ["true"])
                let bad = try await daemon.jobctl("schedule", "add", "bad", "--every", "1h", "--retries", "500", "--", "true")
                #expect(bad.status == 64 && bad.stderr.contains("--retries is 0 to"), "the same checks as submit: \(bad)")
            }
        }

        @Test func aBadScheduleIsRefusedNamingWhatIsWrong() async throws {
            try await DaemonProcess.with { daemon in
                let cron = try await daemon.jobctl("schedule", "add", "bad", "--cron", "61 * * * *", "--", "true")
                #expect(cron.status == 65 && cron.stderr.contains("cron minute"), "\(cron)")
                let both = try await daemon.jobctl("schedule", "add", "bad", "--cron", "@daily", "--every", "1h", "--", "true")
                #expect(both.status == 64, "\(both)")
                let name = try await daemon.jobctl("schedule", "add", "no spaces", "--every", "1h", "--", "true")
                #expect(name.status == 65, "\(name)")
                #expect(try await daemon.jobctl("schedule", "list").stdout.contains("bad") == false)
            }
        }
    }
}
