import Foundation
import JobdProtocol
import JobdTestSupport
import Testing

extension AgainstTheRealDaemon {
    /// `running` means the job's process runs, and `started_at` is when it started (issue 18, item 14).
    @Suite struct HonestStatesTests {
        @Test func neverMoreCPUJobsRunThanWorkersAndEachStartsWhenItsProcessDoes() async throws {
            try await DaemonProcess.with(arguments: ["--cpu-workers", "2"]) { daemon in
                let ids = try await daemon.submit(Array(repeating: JobSpec(argv: ["sleep", "1"], class: .cpu), count: 5))
                var sawTwo = false
                while true {
                    let status = try await daemon.status()
                    #expect(status.cpu.running <= 2, "status: \(status.cpu)")
                    let running = try await daemon.connect {
                        try await $0.call(List.method, List.Parameters(states: [.running]), returning: List.Reply.self).jobs
                    }
                    #expect(running.count <= 2, "list --state running: \(running.map(\.id))")
                    if status.cpu.running == 2 { sawTwo = true }
                    if status.cpu.succeeded == 5 { break }
                    try await Task.sleep(for: .milliseconds(50))
                }
                #expect(sawTwo)
                let jobs = try await daemon.wait(ids)
                for job in jobs {
                    let wall = try #require(job.wallSeconds)
                    #expect(wall < 1.8, "job \(job.id) ran its 1 s, not the time it waited in a worker: \(wall) s")
                }
                // From the recorded times: never more than two ran at once (a small overlap is the hand-over).
                let intervals = try jobs.map { (try #require($0.startedAt).secondsSinceEpoch, try #require($0.finishedAt).secondsSinceEpoch) }
                for (start, _) in intervals {
                    let atOnce = intervals.filter { $0.0 <= start + 0.02 && start + 0.02 < $0.1 }.count
                    #expect(atOnce <= 2, "jobs ran at once at \(start): \(jobs.map { ($0.id, $0.startedAt, $0.finishedAt) })")
                }
            }
        }
    }
}
