import JobdHandlers
import JobdProtocol
import JobdRunners
import JobdScheduler
@testable import JobdServer
import JobdStore
import JobdTestSupport
import Synchronization
import Testing

/// Calls straight into `Responder.respond(to:caller:send:)`, the listener's single entry point, with
/// the dispatcher of a `Harness` behind it: the methods' replies and errors with no socket.
@Suite struct ResponderTests {
    /// The daemon's own user, whom a non-root daemon serves (and root sees every job anyway).
    static let caller = Caller(pid: 1, uid: SystemInfo.userID, gid: 0)

    static func responder(_ harness: Harness) -> Responder {
        Responder(
            dispatcher: harness.dispatcher, store: harness.store, classifier: Classifier(defaultClass: .cpu),
            registry: .builtIn, profileBook: harness.profileBook,
            pruner: Pruner(
                store: harness.store, dispatcher: harness.dispatcher, logsDirectory: harness.directory.path,
                logger: Harness.quietLogger),
            configuration: Setting(harness.configuration), startedAt: .now, logger: Harness.quietLogger)
    }

    /// Sends one call as its JSON text; returns every reply frame, decoded as JSON.
    static func call(_ responder: Responder, _ json: String, as caller: Caller = caller) async throws -> [JSONValue] {
        let message = Array(json.utf8)
        let header = try WireJSON.decode(VarlinkCallHeader.self, from: message)
        let replies = Mutex<[[UInt8]]>([])
        try await responder.respond(to: IncomingCall(header: header, message: message), caller: caller) { bytes in
            replies.withLock { $0.append(bytes) }
        }
        return try replies.withLock { $0 }.map { try WireJSON.decode(JSONValue.self, from: $0) }
    }

    @Test func anInvalidSubmitIsRefusedWithTheFieldNamed() async throws {
        try await Harness.with { harness in
            let responder = Self.responder(harness)
            let empty = try await Self.call(
                responder, #"{"method":"io.jobd.Submit","parameters":{"jobs":[{"argv":[]}]}}"#)
            #expect(empty.count == 1)
            #expect(empty.first?["error"] == .string("io.jobd.InvalidJob"))
            #expect(empty.first?["parameters"]?["index"] == .int(0))
            #expect(empty.first?["parameters"]?["reason"] == .string("an exec job needs a non-empty argv"))

            let unknown = try await Self.call(
                responder,
                #"{"method":"io.jobd.Submit","parameters":{"jobs":[{"argv":["true"]},{"argv":["true"],"run_at":"x"}]}}"#)
            #expect(unknown.first?["error"] == .string("org.varlink.service.InvalidParameter"))
            #expect(unknown.first?["parameters"]?["parameter"] == .string("jobs.1.run_at"), "\(unknown)")

            let priority = try await Self.call(
                responder, #"{"method":"io.jobd.Submit","parameters":{"jobs":[{"kind":"noop","priority":1000001}]}}"#)
            #expect(priority.first?["error"] == .string("io.jobd.InvalidJob"))
            let reason = priority.first?["parameters"]?["reason"]?.stringValue ?? ""
            #expect(reason.hasPrefix("priority must be in"), "\(reason)")

            #expect(harness.store.receivedWrites.isEmpty, "nothing invalid reaches the store")
        }
    }

    @Test func submitThenWaitRepliesWithTheFinishedJob() async throws {
        let handler = FakeRunner("handler", always: .block)
        try await Harness.with(handler: handler) { harness in
            let responder = Self.responder(harness)
            let submitted = try await Self.call(
                responder, #"{"method":"io.jobd.Submit","parameters":{"jobs":[{"kind":"noop","max_attempts":2}]}}"#)
            let id = try #require(submitted.first?["parameters"]?["ids"]?[element: 0]?.int64Value, "\(submitted)")
            let job = JobID(rawValue: id)
            #expect(try harness.row(job).class == .io, "noop declares io; it runs on the handler runner")
            let replies = Locked<[JSONValue]?>(nil)
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask {
                    let reply = try await Self.call(
                        responder, #"{"method":"io.jobd.Wait","parameters":{"ids":[\#(id)]}}"#)
                    replies.set(reply)
                }
                try await handler.waitUntilBlocking(job)
                try await staysFalse("Wait replied while the job ran") { replies.get != nil }
                handler.release(job)
                try await eventually("Wait replies") { replies.get != nil ? true : nil }
                try await group.waitForAll()
            }
            let reply = try #require(replies.get)
            #expect(reply.count == 1)
            let record = reply.first?["parameters"]?["jobs"]?[element: 0]
            #expect(record?["id"] == .int(id))
            #expect(record?["state"] == .string("succeeded"), "\(reply)")
            #expect(record?["max_attempts"] == .int(2))
            #expect(handler.attempts(of: job).first?.work == .handler(name: "noop", payload: .null))
        }
    }

    @Test func submitDuringADrainIsRefusedAndStoresNothing() async throws {
        try await Harness.with { harness in
            let responder = Self.responder(harness)
            await harness.dispatcher.drain(grace: .zero)
            let refused = try await Self.call(
                responder, #"{"method":"io.jobd.Submit","parameters":{"jobs":[{"kind":"noop"}]}}"#)
            #expect(refused.first?["error"] == .string("io.jobd.ShuttingDown"), "\(refused)")
            #expect(harness.store.receivedWrites.isEmpty)
        }
    }

    /// One user's waiting jobs may hold at most ``JobLimits/maximumWaitingDependenciesPerUser`` dependencies
    /// at once (each is held in memory); a job that stops waiting gives its share back.
    @Test func aUsersWaitingDependenciesAreBoundedAndGivenBackWhenAJobStopsWaiting() async throws {
        // Jobs that never finish (the pool holds them), for the others to wait on.
        try await Harness.with(pool: FakeRunner("pool", always: .block)) { harness in
            let responder = Self.responder(harness)
            let perJob = JobLimits.maximumDependencies
            let held = Array(repeating: #"{"argv":["true"],"class":"cpu"}"#, count: perJob).joined(separator: ",")
            let first = try await Self.call(responder, #"{"method":"io.jobd.Submit","parameters":{"jobs":[\#(held)]}}"#)
            #expect(first.first?["error"] == nil, "\(first)")
            let after = (1...perJob).map(String.init).joined(separator: ",")
            let waiting = #"{"method":"io.jobd.Submit","parameters":{"jobs":[{"argv":["true"],"class":"cpu","after":[\#(after)]}]}}"#
            var dependents: [Int64] = []
            for _ in 0..<(JobLimits.maximumWaitingDependenciesPerUser / perJob) {
                let reply = try await Self.call(responder, waiting)
                guard case .int(let id)? = reply.first?["parameters"]?["ids"]?[element: 0] else {
                    Issue.record("a dependent under the bound is refused: \(reply)")
                    return
                }
                dependents.append(id)
            }
            let refused = try await Self.call(responder, waiting)
            #expect(refused.first?["error"] == .string("io.jobd.InvalidJob"), "\(refused)")
            let reason = refused.first?["parameters"]?["reason"]?.stringValue ?? ""
            #expect(reason.contains("already wait on 100000 dependencies"), "\(reason)")
            // A cancelled dependent no longer waits: its thousand come back.
            let cancel = try await Self.call(
                responder, #"{"method":"io.jobd.Cancel","parameters":{"id":\#(dependents[0])}}"#)
            #expect(cancel.first?["error"] == nil, "\(cancel)")
            let again = try await Self.call(responder, waiting)
            #expect(again.first?["error"] == nil, "\(again)")
        }
    }

    /// Submits at the same moment cannot each pass the dependency bound on the same room: admit reserves
    /// what it lets through, so exactly as many fit as the bound allows.
    @Test func concurrentSubmitsCannotPassTheDependencyBoundTogether() async throws {
        try await Harness.with(pool: FakeRunner("pool", always: .block)) { harness in
            let responder = Self.responder(harness)
            let perJob = JobLimits.maximumDependencies
            let held = Array(repeating: #"{"argv":["true"],"class":"cpu"}"#, count: perJob).joined(separator: ",")
            _ = try await Self.call(responder, #"{"method":"io.jobd.Submit","parameters":{"jobs":[\#(held)]}}"#)
            let after = (1...perJob).map(String.init).joined(separator: ",")
            let job = #"{"argv":["true"],"class":"cpu","after":[\#(after)]}"#
            let call = #"{"method":"io.jobd.Submit","parameters":{"jobs":[\#(job),\#(job),\#(job),\#(job)]}}"#
            let fits = JobLimits.maximumWaitingDependenciesPerUser / (4 * perJob)
            let accepted = try await withThrowingTaskGroup(of: Bool.self) { group in
                for _ in 0..<(fits + 15) {
                    group.addTask { try await Self.call(responder, call).first?["error"] == nil }
                }
                return try await group.reduce(0) { $0 + ($1 ? 1 : 0) }
            }
            #expect(accepted == fits, "\(accepted) calls of 4,000 dependencies accepted; \(fits) fit")
        }
    }

    /// The limits and pauses jobd keeps are bounded: each is shown in `status` and read by every claim.
    @Test func limitsAndPausesAreBounded() async throws {
        try await Harness.with { harness in
            let responder = Self.responder(harness)
            for index in 0..<Dispatcher.maximumControls {
                let set = try await Self.call(
                    responder, #"{"method":"io.jobd.SetQueueLimit","parameters":{"queue":"q\#(index)","limit":1}}"#)
                try #require(set.first?["error"] == nil, "\(set)")
            }
            let refused = try await Self.call(responder, #"{"method":"io.jobd.Pause","parameters":{"queue":"one-more"}}"#)
            #expect(refused.first?["error"] == .string("org.varlink.service.InvalidParameter"), "\(refused)")
            let again = try await Self.call(
                responder, #"{"method":"io.jobd.SetQueueLimit","parameters":{"queue":"q0","limit":2}}"#)
            #expect(again.first?["error"] == nil, "a queue that has one already may change it: \(again)")
        }
    }

    /// One user's jobs may use at most ``JobLimits/maximumQueuesPerUser`` queues besides `default` at once, so no one
    /// user can hold every name; queues their finished jobs used count no more.
    @Test(.enabled(if: SystemInfo.userID == 0, "a root daemon serves another user, the caller here"))
    func oneUsersJobsUseABoundedNumberOfQueues() async throws {
        try await Harness.with(handler: FakeRunner("handler", always: .block)) { harness in
            let responder = Self.responder(harness)
            let user = Caller(pid: 1, uid: 65534, gid: 65534)
            let jobs = (0..<JobLimits.maximumQueuesPerUser).map { #"{"kind":"noop","queue":"u\#($0)"}"# }.joined(separator: ",")
            let filled = try await Self.call(responder, #"{"method":"io.jobd.Submit","parameters":{"jobs":[\#(jobs)]}}"#, as: user)
            #expect(filled.first?["error"] == nil, "\(filled)")
            let again = try await Self.call(
                responder, #"{"method":"io.jobd.Submit","parameters":{"jobs":[{"kind":"noop","queue":"u0"},{"kind":"noop"}]}}"#,
                as: user)
            #expect(again.first?["error"] == nil, "a queue it holds, and default, are no new ones: \(again)")
            let refused = try await Self.call(
                responder, #"{"method":"io.jobd.Submit","parameters":{"jobs":[{"kind":"noop","queue":"one-more"}]}}"#, as: user)
            #expect(refused.first?["error"] == .string("io.jobd.InvalidJob"), "\(refused)")
            let reason = refused.first?["parameters"]?["reason"]?.stringValue ?? ""
            #expect(reason.contains("use \(JobLimits.maximumQueuesPerUser) queues"), "\(reason)")
            let other = try await Self.call(
                responder, #"{"method":"io.jobd.Submit","parameters":{"jobs":[{"kind":"noop","queue":"one-more"}]}}"#,
                as: Caller(pid: 1, uid: 65533, gid: 65533))
            #expect(other.first?["error"] == nil, "another user is not held back: \(other)")
            // The job in u1 ends: that queue no longer counts for the user.
            let cancelled = try await Self.call(
                responder, #"{"method":"io.jobd.Cancel","parameters":{"id":2}}"#, as: user)
            #expect(cancelled.first?["error"] == nil, "\(cancelled)")
            let room = try await Self.call(
                responder, #"{"method":"io.jobd.Submit","parameters":{"jobs":[{"kind":"noop","queue":"one-more"}]}}"#, as: user)
            #expect(room.first?["error"] == nil, "\(room)")
        }
    }

    /// Submits at the same moment cannot each pass the per-user queue bound on the same room: admission
    /// the store checks the bound in the submit's own transaction.
    @Test(.enabled(if: SystemInfo.userID == 0, "a root daemon serves another user, the caller here"))
    func concurrentSubmitsCannotPassTheQueueBoundTogether() async throws {
        try await Harness.with(handler: FakeRunner("handler", always: .block)) { harness in
            let responder = Self.responder(harness)
            let user = Caller(pid: 1, uid: 65534, gid: 65534)
            let accepted = try await withThrowingTaskGroup(of: Bool.self) { group in
                for call in 0..<20 {
                    let jobs = (0..<JobLimits.maximumQueuesPerUser).map { #"{"kind":"noop","delay_seconds":3600,"queue":"c\#(call)-\#($0)"}"# }
                    let json = #"{"method":"io.jobd.Submit","parameters":{"jobs":[\#(jobs.joined(separator: ","))]}}"#
                    group.addTask { try await Self.call(responder, json, as: user).first?["error"] == nil }
                }
                return try await group.reduce(0) { $0 + ($1 ? 1 : 0) }
            }
            #expect(accepted == 1, "\(accepted) calls of \(JobLimits.maximumQueuesPerUser) new queues each accepted; one fits")
        }
    }

    /// A limit and a pause set on one queue at the same moment both hold: each change reads, stores and
    /// applies the whole control in turn.
    @Test func concurrentLimitAndPauseOfAQueueAreBothKept() async throws {
        try await Harness.with { harness in
            let responder = Self.responder(harness)
            let queues = (0..<40).map { "q\($0)" }
            try await withThrowingTaskGroup(of: Void.self) { group in
                for (index, queue) in queues.enumerated() {
                    group.addTask {
                        _ = try await Self.call(
                            responder,
                            #"{"method":"io.jobd.SetQueueLimit","parameters":{"queue":"\#(queue)","limit":\#(index + 1)}}"#)
                    }
                    group.addTask {
                        _ = try await Self.call(responder, #"{"method":"io.jobd.Pause","parameters":{"queue":"\#(queue)"}}"#)
                    }
                }
                try await group.waitForAll()
            }
            for (index, queue) in queues.enumerated() {
                let control = await harness.dispatcher.control(for: .queue(queue))
                #expect(control.limit == index + 1 && control.paused, "\(queue): \(control)")
            }
        }
    }

    @Test func cancelOfARunningJobRepliesOnceItHasEnded() async throws {
        try await Harness.with(pool: FakeRunner("pool", always: .block)) { harness in
            let responder = Self.responder(harness)
            let id = try await harness.submit(JobSpec(argv: ["/bin/sleep", "300"]))
            try await harness.pool.waitUntilBlocking(id)
            let reply = try await withDeadline("Cancel replies") {
                try await Self.call(responder, #"{"method":"io.jobd.Cancel","parameters":{"id":\#(id.rawValue)}}"#)
            }
            #expect(reply.first?["parameters"]?["job"]?["state"] == .string("cancelled"), "\(reply)")
            #expect(harness.pool.received.first?.stop == .cancelled)
            let again = try await Self.call(
                responder, #"{"method":"io.jobd.Cancel","parameters":{"id":\#(id.rawValue)}}"#)
            #expect(again.first?["error"] == .string("io.jobd.JobFinished"), "\(again)")
        }
    }
}

extension JSONValue {
    /// The element at `index` of an array, or nil.
    fileprivate subscript(element index: Int) -> JSONValue? {
        guard case .array(let elements) = self, elements.indices.contains(index) else { return nil }
        return elements[index]
    }
}

/// `io.jobd.Watch`'s throughput: over a sliding window, falling back to 0 when jobs stop finishing.
@Suite struct ThroughputWindowTests {
    @Test func theRateIsOverTheWindowAndFallsToZeroWhenJobsStopFinishing() {
        var window = ThroughputWindow(seconds: 10)
        let start = ContinuousClock.now
        #expect(window.add(finished: 100, at: start) == nil, "one sample is no rate")
        #expect(window.add(finished: 101, at: start + .milliseconds(250)) == 1, "at least a second: not 4 jobs/s")
        #expect(window.add(finished: 150, at: start + .seconds(5)) == 10)
        #expect(window.add(finished: 200, at: start + .seconds(10)) == 10)
        // Nothing finishes any more: the window slides past the last finish and the rate reaches 0.
        #expect(window.add(finished: 200, at: start + .seconds(15)) == 5)
        #expect(window.add(finished: 200, at: start + .seconds(21)) == 0)
    }
}
