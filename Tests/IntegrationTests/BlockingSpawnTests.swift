import Foundation
import JobdProtocol
import JobdTestSupport
import Testing

extension AgainstTheRealDaemon {
    /// A job's `execve` that never returns holds no other user's job (issue 18, item 2).
    ///
    /// Built on a FUSE mount that never answers, in a private mount namespace (``HangingMount``), and a
    /// script whose `#!` interpreter lies under it: the review's attack, with root's jobs as the stuck
    /// ones (an unprivileged FUSE mount needs a /dev/fuse that other users may open, which this machine's
    /// is not) and nobody's as the ones that must not wait.
    @Suite struct BlockingSpawnTests {
        @Test(.enabled(if: HangingMount.unavailable == nil, "\(HangingMount.unavailable ?? "")"))
        func anExecveThatNeverReturnsHoldsNoOtherUsersJob() async throws {
            let mount = try await HangingMount()
            defer { mount.remove() }
            try await DaemonProcess.with { daemon in
                let script = daemon.directory.file("stuck.sh")
                try "#!\(mount.path)/interpreter\n".write(toFile: script, atomically: true, encoding: .utf8)
                #expect(chmod(script, 0o755) == 0)
                // Each of these waits in execve until the spawn watchdog kills it (~2 s).
                let stuck = try await daemon.submit(Array(repeating: JobSpec(argv: [script], cwd: "/", class: .io), count: 8))
                try await eventually("root's jobs are starting") {
                    try await daemon.status().io.running >= 4 ? true : nil
                }
                let nobody = try NobodyClient(daemon)
                let theirs = try jobID(printedBy: try await nobody.run(["submit", "--json", "--io", "--cwd", "/", "--", "/bin/true"]))
                let finished = try await daemon.wait([theirs] + stuck, within: .seconds(60))
                #expect(finished[0].state == .succeeded, "\(finished[0])")
                let theirEnd = try #require(finished[0].finishedAt)
                for job in finished.dropFirst() {
                    #expect(job.state == .failed)
                    #expect(job.error?.contains("did not reach execve in time") == true, "\(job.error ?? "")")
                    #expect(theirEnd < (job.finishedAt ?? theirEnd), "nobody's job ended before any stuck spawn of root's did")
                }
                #expect(try await daemon.status().version == JobdInterface.version, "the daemon answers")
            }
        }
    }
}
