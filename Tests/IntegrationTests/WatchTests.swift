import Foundation
import JobdProtocol
import JobdTestSupport
import Testing

extension AgainstTheRealDaemon {
    /// `jobctl watch` (issue 13): the stream and `--once`. The live view in a terminal is checked in a
    /// tmux pane, in WatchInTmuxTests.swift.
    @Suite struct WatchTests {
        @Test func watchOnceIsOneFrameForScripts() async throws {
            try await DaemonProcess.with { daemon in
                let id = try await daemon.submit([JobSpec(argv: ["true"], class: .io)])[0]
                _ = try await daemon.wait([id])
                let frame = try await daemon.jobctl("watch", "--once")
                #expect(frame.status == 0 && frame.stdout.contains("succeeded") && frame.stdout.contains("STATE"), "\(frame)")
                #expect(
                    frame.stdout.split(separator: "\n").contains { $0.contains(" \(id) ") && $0.contains("succeeded") },
                    "the job's end is among the recent transitions: \(frame.stdout)")
                #expect(!frame.stdout.contains("\u{1B}"), "no terminal control codes in a frame for scripts")
            }
        }

        /// A failed attempt with a retry to come is a transition too: the job's latest row says it waits
        /// (`scheduled`, in its backoff), not still `running`.
        @Test func aFailedAttemptWithARetryToComeShowsAsWaiting() async throws {
            try await DaemonProcess.with { daemon in
                let id = try await daemon.submit([
                    JobSpec(argv: ["sh", "-c", "exit 3"], class: .io, maxAttempts: 2, backoff: .fixed, backoffSeconds: 30)
                ])[0]
                try await eventually("the first attempt failed") { () -> Bool? in
                    let job = try await daemon.job(id)
                    return job.state == .scheduled && job.attempts == 1 ? true : nil
                }
                let frame = try await daemon.jobctl("watch", "--once")
                let latest = frame.stdout.split(separator: "\n").first { $0.contains(" \(id) ") && $0.contains(" io ") }
                #expect(latest?.hasSuffix("scheduled") == true, "the newest row of job \(id): \(frame.stdout)")
                _ = try await daemon.jobctl("cancel", id.description)
            }
        }

        /// Into a pipe or a file, watch prints each frame as text (as `--once` does), one after another,
        /// with no terminal control codes.
        @Test func watchIntoAFileWritesPlainFramesAsJobsChange() async throws {
            try await DaemonProcess.with { daemon in
                let out = daemon.directory.file("watch.out")
                let pid = try CleanSpawn.start(
                    Binaries.jobctl, ["--socket", daemon.socket, "watch"], stdout: out, stderr: daemon.directory.file("watch.err"))
                let text = { (try? String(contentsOfFile: out, encoding: .utf8)) ?? "" }
                try await eventually("a first frame") { text().contains("STATE") ? true : nil }
                let id = try await daemon.submit([JobSpec(argv: ["true"], class: .io)])[0]
                _ = try await daemon.wait([id])
                try await eventually("a frame with the job's end") {
                    text().components(separatedBy: "STATE").count > 2 && text().contains(" \(id) ") ? true : nil
                }
                #expect(!text().contains("\u{1B}"), "no control codes: \(text())")
                #expect(text().hasPrefix("jobd "), "\(text().prefix(200))")
                kill(pid, SIGTERM)
                #expect(try await CleanSpawn.wait(pid, what: "jobctl watch") == 128 + SIGTERM)
            }
        }

        /// With SIGPIPE ignored (as systemd starts services), a watch whose reader has gone ends at its next
        /// frame instead of holding its connection to jobd for nobody.
        @Test func watchIntoAClosedPipeEndsEvenWithSIGPIPEIgnored() async throws {
            try await DaemonProcess.with { daemon in
                let out = daemon.directory.file("head.out")
                let pid = try CleanSpawn.start(
                    "/bin/sh",
                    ["-c", "trap '' PIPE; \"$0\" --socket \"$1\" watch | head -c 10 > \"$2\"", Binaries.jobctl, daemon.socket, out],
                    stdout: daemon.directory.file("sh.out"), stderr: daemon.directory.file("sh.err"))
                try await eventually("head read its bytes") {
                    ((try? String(contentsOfFile: out, encoding: .utf8)) ?? "").count == 10 ? true : nil
                }
                // The next frame meets the closed pipe.
                _ = try await daemon.wait(try await daemon.submit([JobSpec(argv: ["true"], class: .io)]))
                // The pipeline (sh waits for both sides) ends only if watch does; its status is head's.
                #expect(try await CleanSpawn.wait(pid, within: .seconds(10), what: "the pipeline") == 0)
            }
        }

        /// With nothing changing, a frame still comes every few seconds: a quiet view's uptime moves, and the
        /// client sees the daemon is there.
        @Test func aQuietWatchStillGetsAFrameNowAndThen() async throws {
            try await DaemonProcess.with { daemon in
                let out = daemon.directory.file("quiet.out")
                let pid = try CleanSpawn.start(
                    Binaries.jobctl, ["--socket", daemon.socket, "watch"], stdout: out, stderr: daemon.directory.file("quiet.err"))
                let headers = { ((try? String(contentsOfFile: out, encoding: .utf8)) ?? "").split(separator: "\n").filter { $0.hasPrefix("jobd ") } }
                // The first frames come as the daemon settles (the first throughput, the workers starting);
                // once none has come for 1.5 s, the next one can only be the quiet interval's.
                var settled = headers().count
                var quietSince = ContinuousClock.now
                try await eventually("the view settles", within: .seconds(10)) { () -> Bool? in
                    let count = headers().count
                    if count != settled { (settled, quietSince) = (count, .now) }
                    return count > 0 && ContinuousClock.now - quietSince >= .milliseconds(1500) ? true : nil
                }
                let frames = try await eventually("a frame with nothing changed", within: .seconds(8)) { () -> [Substring]? in
                    let found = headers()
                    return found.count > settled ? found : nil
                }
                #expect(frames[settled] != frames[settled - 1], "the uptime moved: \(frames)")
                kill(pid, SIGTERM)
                _ = try await CleanSpawn.wait(pid, what: "jobctl watch")
            }
        }

        @Test func theWatchStreamSendsAFrameWhenAJobEnds() async throws {
            try await DaemonProcess.with { daemon in
                try await daemon.connect { connection in
                    try await connection.sendRaw(Array(#"{"method": "io.jobd.Watch", "more": true}"#.utf8))
                    let first = try #require(try await connection.nextRawReply())
                    #expect(String(decoding: first, as: UTF8.self).contains("\"continues\":true"))
                    let id = try await daemon.submit([JobSpec(argv: ["true"], class: .io)])[0]
                    // Pushed: the frames that follow carry the job, with no call from this client.
                    try await eventually("a frame shows the job's end") { () -> Bool? in
                        let frame = String(decoding: try #require(try await connection.nextRawReply()), as: UTF8.self)
                        return frame.contains(#""id":\#(id)"#) && frame.contains("succeeded") ? true : nil
                    }
                    // With nothing else happening, frames keep coming while the throughput moves: the job
                    // that finished shows as a rate above 0 (the window then lets it fall back to 0).
                    try await eventually("a frame carries a throughput above 0") { () -> Bool? in
                        let frame = try #require(try await connection.nextRawReply())
                        let reply = try JSONDecoder().decode(WatchFrame.self, from: Data(frame))
                        return (reply.parameters.throughput ?? 0) > 0 ? true : nil
                    }
                }
            }
        }
    }
}

/// The part of a `Watch` reply frame these tests read.
private struct WatchFrame: Decodable {
    struct Parameters: Decodable { var throughput: Double? }
    var parameters: Parameters
}
