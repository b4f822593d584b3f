import Foundation
import JobdClient
import JobdVarlinkNIO
import JobdProtocol
import JobdTestSupport
import Testing

extension AgainstTheRealDaemon {
    /// The varlink protocol over a raw connection: what any client may send, good or bad.
    @Suite struct ProtocolTests {
        /// Sends one raw message and returns the raw reply as a JSON object.
        private func rawCall(_ daemon: DaemonProcess, _ json: String) async throws -> [String: Any] {
            let reply = try await daemon.connect { connection in
                try await connection.sendRaw(Array(json.utf8))
                return try #require(try await connection.nextRawReply(), "no reply to \(json)")
            }
            return try #require(try JSONSerialization.jsonObject(with: Data(reply)) as? [String: Any])
        }

        @Test func getInfoAndInterfaceDescriptionAnswerTheRealInterface() async throws {
            try await DaemonProcess.with { daemon in
                let info = try await rawCall(daemon, #"{"method": "org.varlink.service.GetInfo"}"#)
                let parameters = try #require(info["parameters"] as? [String: Any])
                #expect(parameters["interfaces"] as? [String] == ["org.varlink.service", "io.jobd"])
                let description = try await rawCall(
                    daemon, #"{"method": "org.varlink.service.GetInterfaceDescription", "parameters": {"interface": "io.jobd"}}"#)
                let text = try #require((description["parameters"] as? [String: Any])?["description"] as? String)
                #expect(text == JobdInterface.definition)
                let unknown = try await rawCall(
                    daemon, #"{"method": "org.varlink.service.GetInterfaceDescription", "parameters": {"interface": "com.example"}}"#)
                #expect(unknown["error"] as? String == "org.varlink.service.InterfaceNotFound")
            }
        }

        @Test func errorsAreQualifiedVarlinkErrors() async throws {
            try await DaemonProcess.with { daemon in
                let missing = try await rawCall(daemon, #"{"method": "io.jobd.Get", "parameters": {"id": 42}}"#)
                #expect(missing["error"] as? String == "io.jobd.JobNotFound")
                #expect((missing["parameters"] as? [String: Any])?["id"] as? Int == 42)

                let noMethod = try await rawCall(daemon, #"{"method": "io.jobd.Frobnicate", "parameters": {}}"#)
                #expect(noMethod["error"] as? String == "org.varlink.service.MethodNotFound")

                let wrongType = try await rawCall(daemon, #"{"method": "io.jobd.Get", "parameters": {"id": "seven"}}"#)
                #expect(wrongType["error"] as? String == "org.varlink.service.InvalidParameter")
                #expect((wrongType["parameters"] as? [String: Any])?["parameter"] as? String == "id")

                let noParameters = try await rawCall(daemon, #"{"method": "io.jobd.Get"}"#)
                #expect(noParameters["error"] as? String == "org.varlink.service.InvalidParameter")

                let badJob = try await rawCall(daemon, #"{"method": "io.jobd.Submit", "parameters": {"jobs": [{"argv": []}]}}"#)
                #expect(badJob["error"] as? String == "io.jobd.InvalidJob")

                let unknownKind = try await rawCall(
                    daemon, #"{"method": "io.jobd.Submit", "parameters": {"jobs": [{"kind": "nope"}]}}"#)
                #expect(unknownKind["error"] as? String == "io.jobd.InvalidJob")
                #expect(((unknownKind["parameters"] as? [String: Any])?["reason"] as? String)?.contains("unknown kind") == true)
            }
        }

        @Test func aMalformedMessageClosesOnlyItsConnection() async throws {
            try await DaemonProcess.with { daemon in
                try await daemon.connect { bystander in
                    let closed = try await daemon.connect { connection in
                        try await connection.sendRaw(Array("this is not json".utf8))
                        return try await connection.nextRawReply() == nil
                    }
                    #expect(closed, "the connection that sent garbage is closed")
                    // The other connection, opened before, still works, and so does a new one.
                    let pong = try await bystander.call(Ping.method, Ping.Parameters(), returning: Ping.Reply.self)
                    #expect(pong.version == JobdInterface.version)
                }
                #expect(try await daemon.status().version == JobdInterface.version)
                #expect(daemon.isRunning)
            }
        }

        @Test func anOversizedMessageClosesOnlyItsConnection() async throws {
            try await DaemonProcess.with(arguments: ["--max-message-bytes", "65536"]) { daemon in
                let closed = try await daemon.connect { connection in
                    // Far past the limit and with no NUL: the daemon must not buffer it to the end.
                    let huge = #"{"method": "io.jobd.Submit", "parameters": {"jobs": [{"argv": [""#
                        + String(repeating: "x", count: 200_000) + #""]}]}}"#
                    try? await connection.sendRaw(Array(huge.utf8))
                    return (try? await connection.nextRawReply()) == nil
                }
                #expect(closed)
                let id = try await daemon.submit([JobSpec(argv: ["true"])])
                #expect(id == [JobID(1)], "the daemon still takes jobs, and stored nothing of the oversized one")
            }
        }

        @Test func onewayCallsGetNoReplyButTakeEffect() async throws {
            try await DaemonProcess.with { daemon in
                try await daemon.connect { connection in
                    try await connection.sendRaw(
                        Array(#"{"method": "io.jobd.Submit", "oneway": true, "parameters": {"jobs": [{"argv": ["true"]}]}}"#.utf8))
                    let pong = try await connection.call(Ping.method, Ping.Parameters(), returning: Ping.Reply.self)
                    #expect(pong.version == JobdInterface.version, "the next reply is the ping's, not the submit's")
                }
                #expect(try await daemon.wait([JobID(1)])[0].state == .succeeded)
            }
        }

        @Test func listPagesNewestFirstAndFiltersByState() async throws {
            try await DaemonProcess.with { daemon in
                let ids = try await daemon.submit((0..<5).map { JobSpec(argv: ["sh", "-c", "exit \($0 % 2)"]) })
                _ = try await daemon.wait(ids)
                let page = try await daemon.connect {
                    try await $0.call(List.method, List.Parameters(limit: 2), returning: List.Reply.self)
                }
                #expect(page.jobs.map(\.id.rawValue) == [5, 4])
                #expect(page.nextBeforeID == JobID(4))
                let next = try await daemon.connect {
                    try await $0.call(List.method, List.Parameters(beforeID: page.nextBeforeID, limit: 10), returning: List.Reply.self)
                }
                #expect(next.jobs.map(\.id.rawValue) == [3, 2, 1])
                #expect(next.nextBeforeID == nil)
                let failed = try await daemon.connect {
                    try await $0.call(List.method, List.Parameters(states: [.failed]), returning: List.Reply.self)
                }
                #expect(failed.jobs.map(\.id.rawValue) == [4, 2])
            }
        }

        @Test func logsFollowStreamsUntilTheJobEnds() async throws {
            try await DaemonProcess.with { daemon in
                let id = try await daemon.submit([JobSpec(argv: ["sh", "-c", "echo first; sleep 0.5; echo second"])])[0]
                var texts: [String] = []
                var finished = false
                try await daemon.connect { connection in
                    try await connection.stream(Logs.method, Logs.Parameters(id: id, follow: true)) { (reply: Logs.Reply) in
                        texts.append(reply.text)
                        finished = reply.finished
                    }
                }
                #expect(texts.joined() == "first\nsecond\n")
                #expect(finished)
                #expect(texts.count >= 2, "output arrived while the job ran: \(texts)")
                let follow = try await daemon.jobctl("logs", "-f", id.description)
                #expect(follow.stdout == "first\nsecond\n")
            }
        }

        /// Wait reads a job's owner from the dispatcher while it runs and from the store once it has
        /// finished (whole, for a few; owners first, for many): every path answers in order, and an
        /// unknown id fails at once, not after the running job.
        @Test func waitAnswersRunningFinishedAndUnknownIdsAlike() async throws {
            try await DaemonProcess.with { daemon in
                let finished = try await daemon.submit(Array(repeating: JobSpec(kind: "noop", class: .io), count: 20))
                _ = try await daemon.wait(finished)
                let sleeper = try await daemon.submit([
                    JobSpec(kind: "sleep", payload: .object(["seconds": .double(0.3)]), class: .io)
                ])[0]
                let started = ContinuousClock.now
                let unknown = try await rawCall(
                    daemon, #"{"method": "io.jobd.Wait", "parameters": {"ids": [\#(sleeper.rawValue), 999999]}}"#)
                #expect(unknown["error"] as? String == "io.jobd.JobNotFound")
                #expect((unknown["parameters"] as? [String: Any])?["id"] as? Int == 999_999)
                #expect(ContinuousClock.now - started < .milliseconds(250))
                for ids in [[sleeper, finished[0]], Array(finished.prefix(3)), finished + [sleeper]] {
                    let jobs = try await daemon.connect {
                        try await $0.call(Wait.method, Wait.Parameters(ids: ids), returning: Wait.Reply.self).jobs
                    }
                    #expect(jobs.map(\.id) == ids)
                    #expect(jobs.allSatisfy { $0.state == .succeeded })
                }
            }
        }
}
}
