import Foundation
import JobdProtocol
import JobdTestSupport
import Testing

extension AgainstTheRealDaemon {
    /// stdout and stderr are kept apart and together (issue 13 part 8): `logs` prints both in the order
    /// written, `logs --stdout` / `--stderr` one of them, also while following.
    @Suite struct OutputStreamsTests {
        /// A job that writes out1, err1, out2, err2, each only once the test has seen the one before in the
        /// log: the order the daemon read them in is then the order they were written, on any machine load.
        private func interleavingJob(_ daemon: DaemonProcess, _ jobClass: JobClass) async throws -> JobID {
            let gate = daemon.directory.file("gate")
            let script = """
                for step in 1 2 3 4; do
                  case $step in 1) echo out1;; 2) echo err1 >&2;; 3) echo out2;; 4) echo err2 >&2;; esac
                  [ $step = 4 ] && break
                  while [ ! -e \(gate)$step ]; do sleep 0.01; done
                done
                """
            let id = try await daemon.submit([JobSpec(argv: ["sh", "-c", script], class: jobClass)])[0]
            let lines = ["out1\n", "out1\nerr1\n", "out1\nerr1\nout2\n"]
            for (step, expected) in lines.enumerated() {
                try await eventually("the job wrote step \(step + 1)", within: .seconds(10)) {
                    try await daemon.jobctl("logs", id.description).stdout == expected ? true : nil
                }
                FileManager.default.createFile(atPath: "\(gate)\(step + 1)", contents: nil)
            }
            _ = try await daemon.wait([id])
            return id
        }

        @Test(arguments: [JobClass.io, .cpu])
        func eachStreamIsReadableApartAndBothInOrder(jobClass: JobClass) async throws {
            try await DaemonProcess.with { daemon in
                let id = try await interleavingJob(daemon, jobClass)
                let both = try await daemon.jobctl("logs", id.description)
                #expect(both.status == 0 && both.stdout == "out1\nerr1\nout2\nerr2\n", "\(both)")
                let stdout = try await daemon.jobctl("logs", "--stdout", id.description)
                #expect(stdout.status == 0 && stdout.stdout == "out1\nout2\n", "\(stdout)")
                let stderr = try await daemon.jobctl("logs", "--stderr", id.description)
                #expect(stderr.status == 0 && stderr.stdout == "err1\nerr2\n", "\(stderr)")
                let neither = try await daemon.jobctl("logs", "--stdout", "--stderr", id.description)
                #expect(neither.status == 64 && neither.stderr.contains("exclude each other"), "\(neither)")
            }
        }

        /// A reader of one stream pages by the interleaved log's offsets: each reply's `offset` resumes it,
        /// and a page never repeats or skips a byte of its stream.
        @Test func oneStreamPagesFromTheOffsetItsLastReplyGave() async throws {
            try await DaemonProcess.with { daemon in
                let id = try await interleavingJob(daemon, .io)
                try await daemon.connect { connection in
                    let first = try await connection.call(
                        Logs.method, Logs.Parameters(id: id, offset: 0, stream: .stderr), returning: Logs.Reply.self)
                    #expect(first.text == "err1\nerr2\n" && first.finished, "\(first)")
                    #expect(first.offset == 20, "the end of the interleaved log")
                    // From the middle of out2 (byte 12 of out1 err1 out2 err2): only err2 is left of stderr.
                    let rest = try await connection.call(
                        Logs.method, Logs.Parameters(id: id, offset: 12, stream: .stderr), returning: Logs.Reply.self)
                    #expect(rest.text == "err2\n" && rest.offset == 20, "\(rest)")
                    let fromOut2 = try await connection.call(
                        Logs.method, Logs.Parameters(id: id, offset: 12, stream: .stdout), returning: Logs.Reply.self)
                    #expect(fromOut2.text == "t2\n", "from byte 12, mid-run: \(fromOut2)")
                }
                // A stream the protocol does not know is refused at the edge, naming the field.
                let raw = try await daemon.connect { connection in
                    try await connection.sendRaw(Array(#"{"method":"io.jobd.Logs","parameters":{"id":\#(id),"stream":"both"}}"#.utf8))
                    return String(decoding: try #require(try await connection.nextRawReply()), as: UTF8.self)
                }
                #expect(raw.contains("org.varlink.service.InvalidParameter") && raw.contains("stream"), "\(raw)")
            }
        }

        /// `logs -f --stderr` shows stderr as it is written, not stdout, and ends with the job.
        @Test func followingOneStreamShowsOnlyItWhileTheJobRuns() async throws {
            try await DaemonProcess.with { daemon in
                let gate = daemon.directory.file("gate")
                let script = "echo noise; echo first >&2; while [ ! -e \(gate) ]; do sleep 0.05; done; echo more; echo second >&2"
                let id = try await daemon.submit([JobSpec(argv: ["sh", "-c", script])])[0]
                let seen = daemon.directory.file("seen")
                let follower = Task {
                    try await runProgram(
                        "/bin/sh",
                        ["-c", "\"$0\" --socket \"$1\" logs -f --stderr \"$2\" | { read line; echo \"$line\" > \"$3\"; cat; }",
                         Binaries.jobctl, daemon.socket, id.description, seen],
                        within: .seconds(30))
                }
                try await eventually("stderr's first line came through the pipe", within: .seconds(5)) {
                    (try? String(contentsOfFile: seen, encoding: .utf8)) == "first\n" ? true : nil
                }
                #expect(try await daemon.job(id).state == .running, "it came while the job ran")
                FileManager.default.createFile(atPath: gate, contents: nil)
                let result = try await follower.value
                #expect(result.status == 0 && result.stdout == "second\n", "only stderr, to the job's end: \(result)")
            }
        }
    }
}
