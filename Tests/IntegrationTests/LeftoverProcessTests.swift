import Foundation
import JobdProtocol
import JobdTestSupport
import Testing

extension AgainstTheRealDaemon {
    /// Nothing of a job outlives the daemon that ran it (issue 18): what a job started is gone before its
    /// requeued attempt runs.
    @Suite struct LeftoverProcessTests {
        @Test(arguments: ["--cpu", "--io"])
        func whatAJobStartedIsKilledBeforeItsRequeuedAttemptRuns(classFlag: String) async throws {
            try await DaemonProcess.with { daemon in
                // sleep sums its arguments: the tiny second one marks this job's processes in /proc.
                let marker = "0.0000\(getpid())\(UInt32.random(in: 1000...UInt32.max))"
                defer { for pid in processes(withArgument: marker) { kill(pid, SIGKILL) } }
                // The shell dies with jobd (PR_SET_PDEATHSIG); the sleep it started would live on under PID 1.
                let submitted = try await daemon.jobctl(
                    "submit", "--json", classFlag, "--cwd", "/", "--", "/bin/sh", "-c", "sleep 300 \(marker); echo done")
                let id = try jobID(printedBy: submitted)
                let first = try await eventually("the job's sleep runs") { processes(withArgument: marker).first }
                // Its group is recorded right after the spawn returns; on a loaded machine the shell may have
                // started `sleep` a moment before (the window docs/SECURITY.md names).
                let ledger = daemon.directory.file("processes")
                try await eventually("the ledger records the job's group") { () -> Bool? in
                    let entries = (try? FileManager.default.contentsOfDirectory(atPath: ledger)) ?? []
                    return entries.contains { $0 != "boot_id" } ? true : nil
                }

                try await daemon.killHard()
                try await daemon.start()
                try await eventually("the requeued job runs again") { try await daemon.job(id).attempts == 2 ? true : nil }
                let running = try await eventually("its second attempt's sleep runs") { () -> [Int32]? in
                    let found = processes(withArgument: marker)
                    return found.contains(where: { $0 != first }) ? found : nil
                }
                #expect(!running.contains(first), "the first attempt's sleep was killed before the second ran")
                #expect(running.count == 1, "one copy of the job's work runs, not two: \(running)")
                #expect(daemon.log.contains("killed what a stopped jobd's jobs left running"), "\(daemon.log)")
                _ = try await daemon.jobctl("cancel", id.description)
            }
        }

        @Test func aCleanStopLeavesNoLedgerEntriesAndNothingRunning() async throws {
            try await DaemonProcess.with { daemon in
                let marker = "0.0000\(getpid())\(UInt32.random(in: 1000...UInt32.max))"
                defer { for pid in processes(withArgument: marker) { kill(pid, SIGKILL) } }
                _ = try await daemon.jobctl("submit", "--io", "--cwd", "/", "--", "/bin/sh", "-c", "sleep 300 \(marker) & wait")
                _ = try await eventually("the job's sleep runs") { processes(withArgument: marker).first }
                let ledger = daemon.directory.file("processes")
                #expect(try FileManager.default.contentsOfDirectory(atPath: ledger).contains { $0 != "boot_id" })
                #expect(try await daemon.terminate() == 0)
                #expect(processes(withArgument: marker).isEmpty, "the drain stopped the job's whole group")
                #expect(try FileManager.default.contentsOfDirectory(atPath: ledger).allSatisfy { $0 == "boot_id" })
            }
        }
    }
}

extension AgainstTheRealDaemon {
    /// A job runs in a session of its own (issue 18, review): it cannot join jobd's process group, a
    /// worker's or another job's, so group signals (timeout, cancel, the drain) always reach it.
    @Suite struct JobSessionTests {
        @Test(.enabled(if: hasPython3, "needs /usr/bin/python3"), arguments: ["--io", "--cpu"])
        func aJobCannotJoinTheDaemonsProcessGroup(classFlag: String) async throws {
            try await DaemonProcess.with { daemon in
                let script = "import os, sys; os.setpgid(0, int(sys.argv[1])); print('joined')"
                let submitted = try await daemon.jobctl(
                    "submit", "--json", classFlag, "--cwd", "/", "--", "/usr/bin/python3", "-c", script, String(daemon.pid))
                let job = try await daemon.wait([try jobID(printedBy: submitted)])[0]
                #expect(job.state == .failed, "the job joined jobd's group: \(job)")
                let output = try await daemon.jobctl("logs", job.id.description).stdout
                #expect(output.contains("PermissionError") && !output.contains("joined"), "\(output)")
            }
        }
    }
}
