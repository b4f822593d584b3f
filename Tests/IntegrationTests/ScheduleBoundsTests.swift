import Foundation
import JobdClient
import JobdProtocol
import JobdVarlinkNIO
import JobdTestSupport
import Testing

extension AgainstTheRealDaemon {
    /// What one user's schedules may cost the daemon (issue 18, items 6 and 8).
    @Suite struct ScheduleBoundsTests {
        @Test func aScheduleJobIsBoundedAndTheListIsPaged() async throws {
            try await DaemonProcess.with { daemon in
                let big = JobSpec(argv: ["true"], env: ["BIG": String(repeating: "x", count: 70_000)])
                do {
                    _ = try await daemon.connect {
                        try await $0.call(
                            AddSchedule.method, AddSchedule.Parameters(name: "big", everySeconds: 3600, job: big),
                            returning: AddSchedule.Reply.self)
                    }
                    Issue.record("a schedule of 70 KB was kept")
                } catch ClientError.remote(.invalidJob(_, let reason)) {
                    #expect(reason.contains("over 65536"), "\(reason)")
                }

                // 250 schedules: three pages, every one listed once, in order.
                try await daemon.connect { connection in
                    for index in 0..<250 {
                        _ = try await connection.call(
                            AddSchedule.method,
                            AddSchedule.Parameters(name: String(format: "s%03d", index), everySeconds: 3600, job: JobSpec(argv: ["true"])),
                            returning: AddSchedule.Reply.self)
                    }
                }
                var names: [String] = []
                var after: String?
                var pages = 0
                repeat {
                    let page = try await daemon.connect {
                        try await $0.call(Schedules.method, Schedules.Parameters(after: after), returning: Schedules.Reply.self)
                    }
                    #expect(page.schedules.count <= Schedules.maximumLimit)
                    names += page.schedules.map(\.name)
                    after = page.next
                    pages += 1
                } while after != nil && pages < 10
                #expect(pages == 3 && names == (0..<250).map { String(format: "s%03d", $0) })
                let listed = try await daemon.jobctl("schedule", "list", "--json")
                #expect(listed.status == 0 && listed.stdout.components(separatedBy: "\"name\"").count == 251, "jobctl pages too")
                let missing = try await daemon.jobctl("schedule", "rm", "nosuch")
                #expect(missing.status == 66 && missing.stderr.contains("no schedule nosuch"), "\(missing)")
            }
        }

        @Test func concurrentAddsCannotPassTheBoundTogether() async throws {
            try await DaemonProcess.with { daemon in
                let bound = JobLimits.maximumSchedulesPerUser
                try await daemon.connect { connection in
                    for index in 0..<(bound - 10) {
                        _ = try await connection.call(
                            AddSchedule.method,
                            AddSchedule.Parameters(name: "a\(index)", everySeconds: 3600, job: JobSpec(argv: ["true"])),
                            returning: AddSchedule.Reply.self)
                    }
                }
                // 100 adds at once, for 10 places.
                let socket = daemon.socket
                try await withThrowingTaskGroup(of: Void.self) { group in
                    for index in 0..<100 {
                        group.addTask {
                            _ = try? await JobdConnection.withConnection(path: socket) {
                                try await $0.call(
                                    AddSchedule.method,
                                    AddSchedule.Parameters(name: "b\(index)", everySeconds: 3600, job: JobSpec(argv: ["true"])),
                                    returning: AddSchedule.Reply.self)
                            }
                        }
                    }
                    try await group.waitForAll()
                }
                var count = 0
                var after: String?
                repeat {
                    let page = try await daemon.connect {
                        try await $0.call(Schedules.method, Schedules.Parameters(after: after), returning: Schedules.Reply.self)
                    }
                    count += page.schedules.count
                    after = page.next
                } while after != nil
                #expect(count == bound, "\(count) schedules kept, the bound is \(bound)")
            }
        }
    }
}

extension AgainstTheRealDaemon.ScheduleBoundsTests {
    /// The daemon keeps a schedule's timing, not its job (found in review, issue 18: 1,000 schedules of 50
    /// KB jobs held 265 MB, and 193 MB again after a restart).
    @Test func schedulesKeepTheirJobsInTheDatabaseNotInMemory() async throws {
        try await DaemonProcess.with { daemon in
            // 4,000 small variables: 50 KB of JSON, several times that as a decoded JobSpec.
            var environment: [String: String] = [:]
            for index in 0..<4000 { environment["k\(String(index, radix: 16))"] = "v" }
            let job = JobSpec(argv: ["true"], env: environment)
            let before = try #require(residentBytes(of: daemon.pid))
            try await daemon.connect { connection in
                for index in 0..<300 {
                    _ = try await connection.call(
                        AddSchedule.method, AddSchedule.Parameters(name: "s\(index)", everySeconds: 31_536_000, job: job),
                        returning: AddSchedule.Reply.self)
                }
            }
            let grown = try #require(residentBytes(of: daemon.pid)) - before
            #expect(grown < 40 << 20, "300 schedules of 50 KB jobs grew the daemon by \(grown >> 20) MiB")
            #expect(try await daemon.terminate() == 0)
            try await daemon.start()
            let restarted = try #require(residentBytes(of: daemon.pid))
            #expect(restarted < before + (20 << 20), "after a restart: \(restarted >> 20) MiB, \(before >> 20) MiB before")
            let first = try await daemon.connect {
                try await $0.call(Schedules.method, Schedules.Parameters(limit: 1), returning: Schedules.Reply.self)
            }
            #expect(first.schedules.first?.job.env?.count == 4000, "the job is read from the database when listed")
        }
    }
}
