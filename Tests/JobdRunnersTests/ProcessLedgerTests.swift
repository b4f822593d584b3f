import Foundation
import JobdRunners
import JobdTestSupport
import Logging
import Testing

/// What a start kills of the process groups a dead jobd recorded.
struct ProcessLedgerTests {
    /// A group whose leader has exited but whose member lives on, as `sh -c 'sleep 300 & …'` leaves it.
    private func orphanedGroup(in directory: TempDirectory) async throws -> (group: Int32, start: Int64, member: () -> Int32?) {
        let marker = "0.0000\(getpid())\(UInt32.random(in: 1000...UInt32.max))"
        let leader = try CleanSpawn.start(
            "/bin/sh", ["-c", "sleep 300 \(marker) & sleep 0.3"], stdout: directory.file("out"), stderr: directory.file("err"))
        let start = try await eventually("the leader's start time") { () -> Int64? in
            guard let text = try? String(contentsOfFile: "/proc/\(leader)/stat", encoding: .utf8),
                let close = text.lastIndex(of: ")")
            else { return nil }
            let fields = text[text.index(after: close)...].split(separator: " ")
            return fields.count > 19 ? Int64(fields[19]) : nil
        }
        _ = try await CleanSpawn.wait(leader, what: "the group's leader")
        let member = { () -> Int32? in
            ((try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []).compactMap(Int32.init).first { pid in
                let data = FileManager.default.contents(atPath: "/proc/\(pid)/cmdline") ?? Data()
                return data.split(separator: 0).contains { String(decoding: $0, as: UTF8.self) == marker }
            }
        }
        return (leader, start, member)
    }

    private func bootID() throws -> String {
        try String(contentsOfFile: "/proc/sys/kernel/random/boot_id", encoding: .utf8)
    }

    @Test func aGroupWhoseLeaderIsGoneLosesOnlyItsOwnersProcesses() async throws {
        let directory = try TempDirectory()
        defer { directory.remove() }
        let ledger = directory.file("processes")
        try FileManager.default.createDirectory(atPath: ledger, withIntermediateDirectories: false)
        try bootID().write(toFile: ledger + "/boot_id", atomically: true, encoding: .utf8)
        let (group, start, member) = try await orphanedGroup(in: directory)
        let survivor = try #require(member(), "the background sleep lives on")
        defer { kill(survivor, SIGKILL) }

        // Recorded as another user's job: the group's number may have been reused by our process; spared.
        FileManager.default.createFile(atPath: ledger + "/\(group).\(start).\(getuid() &+ 1)", contents: nil)
        var found = ProcessLedger.killLeftovers(in: ledger, wait: .seconds(2), logger: Logger(label: "test"))
        #expect(found.killed.isEmpty && member() == survivor, "another owner's process was spared")

        // Recorded as ours: killed.
        try bootID().write(toFile: ledger + "/boot_id", atomically: true, encoding: .utf8)
        FileManager.default.createFile(atPath: ledger + "/\(group).\(start).\(getuid())", contents: nil)
        found = ProcessLedger.killLeftovers(in: ledger, wait: .seconds(2), logger: Logger(label: "test"))
        #expect(found.killed == [group] && found.stuck.isEmpty, "\(found)")
        #expect(member() == nil)
        #expect(try FileManager.default.contentsOfDirectory(atPath: ledger) == ["boot_id"], "the entries are gone")
    }
}
