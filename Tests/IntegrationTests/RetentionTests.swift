import Foundation
import JobdProtocol
import JobdTestSupport
import JobdVarlinkNIO
import Testing

extension AgainstTheRealDaemon {
    /// Growth without bound (issue 9 item 10): the output limit holds for a job's whole log.
    @Suite struct RetentionTests {
        /// Sends one raw message and returns the raw reply as a JSON object.
        private func rawCall(_ daemon: DaemonProcess, _ json: String) async throws -> [String: Any] {
            let reply = try await daemon.connect { connection in
                try await connection.sendRaw(Array(json.utf8))
                return try #require(try await connection.nextRawReply(), "no reply to \(json)")
            }
            return try #require(try JSONSerialization.jsonObject(with: Data(reply)) as? [String: Any])
        }

        /// Whether the daemon still has the job (Get answers it rather than JobNotFound).
        private func exists(_ daemon: DaemonProcess, _ id: JobID) async throws -> Bool {
            let reply = try await rawCall(daemon, #"{"method": "io.jobd.Get", "parameters": {"id": \#(id.rawValue)}}"#)
            if reply["error"] as? String == "io.jobd.JobNotFound" { return false }
            guard reply["parameters"] != nil else { throw TimedOut("Get of job \(id) failed: \(reply)") }
            return true
        }

        private func logPath(_ daemon: DaemonProcess, _ id: JobID) -> String { daemon.directory.file("logs/\(id).log") }

        // MARK: - The output limit

        /// Before: each attempt counted its output from 0 and appended to the one log, so 3 attempts of
        /// 800 bytes left 2,400 bytes under a 1,000-byte limit, and a retry loop filled the disk.
        @Test(arguments: [JobClass.cpu, .io])
        func theOutputLimitHoldsForTheWholeLogAcrossAttempts(jobClass: JobClass) async throws {
            try await DaemonProcess.with(arguments: ["--output-limit", "1000"]) { daemon in
                let ids = try await daemon.submit([
                    JobSpec(
                        argv: ["sh", "-c", #"head -c 800 /dev/zero | tr "\0" x; exit 1"#], class: jobClass,
                        maxAttempts: 3)
                ])
                let job = try #require(try await daemon.wait(ids).first)
                #expect(job.state == .dead && job.attempts == 3, "every attempt ran: \(job)")
                let size = try #require(
                    try FileManager.default.attributesOfItem(atPath: logPath(daemon, job.id))[.size] as? Int)
                #expect(size <= 1000, "the log holds at most the limit across attempts, not per attempt")
                #expect(size == 1000, "the first attempt's 800 bytes and 200 of the second's")
                let logs = try await daemon.connect {
                    try await $0.call(Logs.method, Logs.Parameters(id: job.id), returning: Logs.Reply.self)
                }
                #expect(logs.truncated, "logs says output was dropped")
                #expect(logs.text.utf8.count == 1000)
            }
        }
    }
}
