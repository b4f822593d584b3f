import Foundation
import JobdProtocol
import JobdTestSupport
import Testing

extension AgainstTheRealDaemon {
    /// On-finish hooks (issue 13): each a job of its own, with the finished job's JSON on stdin.
    @Suite struct HookTests {
        private func hooks(of id: JobID, _ daemon: DaemonProcess) async throws -> [Job] {
            try await daemon.connect {
                try await $0.call(List.method, List.Parameters(limit: 100), returning: List.Reply.self).jobs
            }.filter { $0.hookOf == id }
        }

        @Test func onSuccessAndOnFailureRunAsJobsWithTheFinishedJobOnStdin() async throws {
            try await DaemonProcess.with { daemon in
                let seen = daemon.directory.file("seen.json")
                let ok = try await daemon.jobctl(
                    "submit", "--on-success", "cat > \(seen)", "--on-failure", "touch \(seen).wrong", "--", "true")
                let id = JobID(Int64(ok.stdout.trimmingCharacters(in: .whitespacesAndNewlines))!)
                let hook = try await eventually("its hook ran") { () -> Job? in
                    try await hooks(of: id, daemon).first { $0.state.isFinished }
                }
                #expect(hook.state == .succeeded && hook.ownerUID == getuid() && hook.class == .io, "\(hook)")
                #expect(hook.argv == ["/bin/sh", "-c", "cat > \(seen)"] && hook.name == "hook of job \(id)")
                let json = try #require(
                    try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: seen))) as? [String: Any])
                #expect(json["id"] as? Int == Int(id.rawValue) && json["state"] as? String == "succeeded", "\(json)")
                let records = try #require(json["attempt_records"] as? [[String: Any]], "its attempts too: \(json)")
                #expect(records.count == 1 && records[0]["exit_code"] as? Int == 0, "\(records)")
                #expect(!FileManager.default.fileExists(atPath: seen + ".wrong"), "on_failure is not for a success")
                let show = try await daemon.jobctl("show", id.description).stdout
                #expect(show.contains("on ok      \"cat > \(seen)\"") && show.contains("on fail    \"touch \(seen).wrong\""), "\(show)")
                #expect(try await daemon.jobctl("show", hook.id.description).stdout.contains("hook of    job \(id)"))

                let failing = try await daemon.jobctl("submit", "--on-failure", "exit 9", "--", "false")
                let failed = JobID(Int64(failing.stdout.trimmingCharacters(in: .whitespacesAndNewlines))!)
                let failedHook = try await eventually("the failure's hook ran") { () -> Job? in
                    try await hooks(of: failed, daemon).first { $0.state.isFinished }
                }
                #expect(failedHook.state == .failed && failedHook.exitCode == 9, "a hook's own failure shows: \(failedHook)")
                #expect(try await hooks(of: failedHook.id, daemon).isEmpty, "a hook has no hooks of its own")
            }
        }

        @Test func theDaemonWideHookRunsForEveryJobButNotForHooks() async throws {
            let directory = try TempDirectory()
            defer { directory.remove() }
            let log = directory.file("ends")
            try await DaemonProcess.with(arguments: ["--on-finish", "grep -o '\"state\" : \"[a-z]*\"' >> \(log)"]) { daemon in
                let ids = try await daemon.submit([JobSpec(argv: ["true"]), JobSpec(argv: ["false"])])
                _ = try await daemon.wait(ids)
                try await eventually("both hooks ran") { () -> Bool? in
                    let lines = ((try? String(contentsOfFile: log, encoding: .utf8)) ?? "").split(separator: "\n")
                    return lines.count == 2 ? true : nil
                }
                try await staysFalse("a hook's end ran the daemon-wide hook", for: .milliseconds(500)) {
                    ((try? String(contentsOfFile: log, encoding: .utf8)) ?? "").split(separator: "\n").count > 2
                }
                let ends = try String(contentsOfFile: log, encoding: .utf8)
                #expect(ends.contains("succeeded") && ends.contains("failed"), "\(ends)")
            }
        }
    }
}
