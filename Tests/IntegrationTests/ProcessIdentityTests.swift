import Foundation
import JobdClient
import JobdProtocol
import JobdTestSupport
import JobdVarlinkNIO
import Testing

extension AgainstTheRealDaemon {
    /// What a job process is, holds and outlives: identity, death signal, environment, descriptors, and the
    /// database lock across a crash (issue 9).
    @Suite struct ProcessIdentityTests {
        // MARK: - Jobs of another user die with the daemon

        @Test(
            .enabled(if: getuid() == 0, "needs root: a root daemon running a job as nobody"),
            arguments: ["--cpu", "--io"])
        func anotherUsersJobDiesWithAKilledDaemonAndRunsOnceAfterTheRestart(classFlag: String) async throws {
            try await DaemonProcess.with { daemon in
                let jobctl = try NobodyClient(daemon)
                // sleep sums its arguments: the tiny second one marks this job's process in /proc.
                let marker = "0.0000\(getpid())\(UInt32.random(in: 1000...UInt32.max))"
                defer { for pid in processes(withArgument: marker) { kill(pid, SIGKILL) } }
                let submitted = try await jobctl.run(["submit", "--json", classFlag, "--cwd", "/", "--", "/bin/sleep", "300", marker])
                let id = try jobID(printedBy: submitted)
                let first = try await eventually("the job runs") { () -> Int32? in processes(withArgument: marker).first }
                #expect(processOwner(first) == 65534, "the job runs as nobody")

                try await daemon.killHard()
                try await eventually("the job's process died with jobd (PR_SET_PDEATHSIG after setuid)") {
                    processes(withArgument: marker).isEmpty ? true : nil
                }

                try await daemon.start()
                try await eventually("the requeued job runs again") { try await daemon.job(id).attempts == 2 ? true : nil }
                let again = try await eventually("its process starts") { () -> [Int32]? in
                    let found = processes(withArgument: marker)
                    return found.isEmpty ? nil : found
                }
                #expect(again.count == 1, "one copy of the job runs, not two: \(again)")
                _ = try await daemon.jobctl("cancel", id.description)
            }
        }
    }
}

// MARK: - Helpers

/// A copy of `jobctl` that nobody (uid 65534) may run, in the daemon's directory, which nobody may pass
/// through (0711) but not list.
struct NobodyClient {
    let daemon: DaemonProcess
    let path: String

    init(_ daemon: DaemonProcess) throws {
        self.daemon = daemon
        #expect(chmod(daemon.directory.path, 0o711) == 0)
        path = daemon.directory.file("jobctl")
        if !FileManager.default.fileExists(atPath: path) {
            try FileManager.default.copyItem(atPath: Binaries.jobctl, toPath: path)
        }
        #expect(chmod(path, 0o755) == 0)
    }

    /// Runs `jobctl --socket <the daemon's> ARGUMENTS` as nobody, with no supplementary groups.
    func run(_ arguments: [String]) async throws -> CommandResult {
        try await runProgram(
            "/usr/bin/setpriv",
            ["--reuid=65534", "--regid=65534", "--clear-groups", path, "--socket", daemon.socket] + arguments)
    }
}

/// The id `jobctl submit --json` printed.
func jobID(printedBy result: CommandResult) throws -> JobID {
    guard result.status == 0, let id = try WireJSON.decode([String: Int64].self, from: Array(result.stdout.utf8))["id"] else {
        throw TimedOut("submit did not print an id: \(result)")
    }
    return JobID(id)
}

/// Every live process with `argument` among its arguments (from /proc/PID/cmdline).
func processes(withArgument argument: String) -> [Int32] {
    let names = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
    return names.compactMap { name -> Int32? in
        guard let pid = Int32(name),
            let data = FileManager.default.contents(atPath: "/proc/\(name)/cmdline"),
            data.split(separator: 0).contains(where: { String(decoding: $0, as: UTF8.self) == argument })
        else { return nil }
        return pid
    }
}

/// The real uid of a process (the `Uid:` line of /proc/PID/status).
func processOwner(_ pid: Int32) -> UInt32? {
    guard let text = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8),
        let line = text.split(separator: "\n").first(where: { $0.hasPrefix("Uid:") })
    else { return nil }
    return line.split(whereSeparator: { $0 == "\t" || $0 == " " }).dropFirst().first.flatMap { UInt32($0) }
}
