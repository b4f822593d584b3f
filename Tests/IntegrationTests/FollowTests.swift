import Foundation
import JobdProtocol
import JobdTestSupport
import Testing

extension AgainstTheRealDaemon {
    /// `jobctl logs -f` (issue 13): output is pushed as it is written and reaches a pipe at once; the
    /// follow ends when the job does.
    @Suite struct FollowTests {
        @Test(arguments: [JobClass.io, .cpu])
        func followedOutputReachesAPipeWhileTheJobRunsAndTheFollowEndsWithIt(jobClass: JobClass) async throws {
            try await DaemonProcess.with { daemon in
                let gate = daemon.directory.file("gate")
                let script = "echo first; while [ ! -e \(gate) ]; do sleep 0.05; done; echo second"
                let id = try await daemon.submit([JobSpec(argv: ["sh", "-c", script], class: jobClass)])[0]
                let seen = daemon.directory.file("seen")
                // The first line through a pipe, while the job still runs: jobctl must not sit on it.
                let follower = Task {
                    try await runProgram(
                        "/bin/sh",
                        ["-c", "\"$0\" --socket \"$1\" logs -f \"$2\" | { read line; echo \"$line\" > \"$3\"; cat; }",
                         Binaries.jobctl, daemon.socket, id.description, seen],
                        within: .seconds(30))
                }
                try await eventually("the first line came through the pipe", within: .seconds(5)) {
                    (try? String(contentsOfFile: seen, encoding: .utf8)) == "first\n" ? true : nil
                }
                #expect(try await daemon.job(id).state == .running, "it came while the job ran")
                let opened = ContinuousClock.now
                FileManager.default.createFile(atPath: gate, contents: nil)
                let result = try await follower.value
                #expect(result.status == 0 && result.stdout == "second\n", "\(result)")
                // Woken by the job's end: a follow does not poll its file.
                #expect(ContinuousClock.now - opened < .seconds(3))
            }
        }
    }
}
