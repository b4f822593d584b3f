import Foundation
import JobdProtocol
import Testing

struct WireTypesTests {
    @Test(arguments: [0.0, 1_764_000_000.123, 951_782_400.5, -86_400.25, 4_102_444_800.999])
    func timestampsRoundTripThroughRFC3339(seconds: Double) throws {
        let timestamp = Timestamp(secondsSinceEpoch: seconds)
        let parsed = try #require(Timestamp(rfc3339: timestamp.rfc3339))
        #expect(abs(parsed.secondsSinceEpoch - seconds) < 0.001)
    }

    @Test func timestampsFormatAsUTCWithMilliseconds() {
        #expect(Timestamp(secondsSinceEpoch: 0).rfc3339 == "1970-01-01T00:00:00.000Z")
        #expect(Timestamp(secondsSinceEpoch: 951_782_400.5).rfc3339 == "2000-02-29T00:00:00.500Z")
        #expect(Timestamp(rfc3339: "2026-11-24T19:03:00+00:00")?.rfc3339 == "2026-11-24T19:03:00.000Z")
        #expect(Timestamp(rfc3339: "yesterday") == nil)
        #expect(Timestamp(rfc3339: "2026-11-24T19:03:00+02:00") == nil, "only UTC is written or read")
    }

    @Test func aJobEncodesEveryKeyWithNullForAbsentValues() throws {
        let job = Job(
            id: JobID(7), state: .queued, kind: "exec", argv: ["true"], class: .io, classSource: .hint,
            ownerUID: 1000, ownerGID: 1000, createdAt: Timestamp(secondsSinceEpoch: 0))
        let object = try #require(
            try JSONSerialization.jsonObject(with: Data(try WireJSON.encode(job))) as? [String: Any])
        #expect(object["exit_code"] is NSNull)
        #expect(object["started_at"] is NSNull)
        #expect(object["class_source"] as? String == "hint")
        #expect(object["created_at"] as? String == "1970-01-01T00:00:00.000Z")
        let decoded = try WireJSON.decode(Job.self, from: try WireJSON.encode(job))
        #expect(decoded == job)
    }

    @Test func jobSpecsAreValidatedBeforeTheDaemonSeesThem() {
        #expect(JobSpec(argv: ["true"]).validate() == nil)
        #expect(JobSpec(argv: []).validate() == "an exec job needs a non-empty argv")
        #expect(JobSpec().validate() == "an exec job needs a non-empty argv")
        #expect(JobSpec(argv: ["a\u{0}b"]).validate() == "argv contains a NUL byte")
        #expect(JobSpec(argv: ["true"], env: ["A=B": "c"]).validate() != nil)
        #expect(JobSpec(argv: ["true"], timeoutSeconds: 0).validate()?.hasPrefix("timeout_seconds must be in (0, ") == true)
        #expect(JobSpec(argv: ["true"], maxAttempts: 0).validate()?.hasPrefix("max_attempts must be in 1...100") == true)
        #expect(JobSpec(kind: "sha256", argv: ["x"]).validate() != nil, "argv is for exec only")
    }

    @Test func jobSpecsUseSnakeCaseOnTheWire() throws {
        let spec = try WireJSON.decode(
            JobSpec.self, from: Array(#"{"argv": ["x"], "timeout_seconds": 1.5, "max_attempts": 3, "class": "io"}"#.utf8))
        #expect(spec.timeoutSeconds == 1.5 && spec.maxAttempts == 3 && spec.class == .io)
    }

    @Test func errorsRoundTripThroughTheirVarlinkNames() {
        let errors: [JobdError] = [
            .jobNotFound(JobID(3)), .jobFinished(JobID(4), .failed), .invalidJob(index: 2, reason: "r"),
            .permissionDenied("p"), .shuttingDown, .storageFailed("disk full"), .methodNotFound("io.jobd.X"),
            .invalidParameter("id"), .interfaceNotFound("a.b"), .methodNotImplemented("m"),
            .replyTooLarge(limit: 1 << 20, reason: "r"), .tooManyConnections("t"),
        ]
        for error in errors {
            #expect(JobdError(name: error.varlinkName, parameters: error.varlinkParameters) == error)
        }
    }

    @Test func theInterfaceDeclaresEveryMethodAndError() {
        for method in JobdInterface.methods {
            let name = method.split(separator: ".").last!
            #expect(JobdInterface.definition.contains("method \(name)("), "\(name) missing from io.jobd")
        }
        for error: JobdError in [.jobNotFound(JobID(1)), .jobFinished(JobID(1), .failed), .invalidJob(index: 0, reason: ""),
                                 .permissionDenied(""), .shuttingDown, .storageFailed(""),
                                 .replyTooLarge(limit: 0, reason: ""), .tooManyConnections("")] {
            let name = error.varlinkName.split(separator: ".").last!
            #expect(JobdInterface.definition.contains("error \(name) ("), "\(name) missing from io.jobd")
        }
    }

    @Test func durationsReadAsPeopleTypeThem() {
        #expect(DurationText.seconds("500ms") == 0.5)
        #expect(DurationText.seconds("30s") == 30)
        #expect(DurationText.seconds("10m") == 600)
        #expect(DurationText.seconds("2h") == 7200)
        #expect(DurationText.seconds("12") == 12)
        #expect(DurationText.seconds("-1s") == nil)
        #expect(DurationText.seconds("soon") == nil)
        #expect(DurationText.seconds("0s") == nil, "zero only where a flag allows it")
        for zero in ["0", "0s", "0ms", "0m", "0d"] { #expect(DurationText.seconds(zero, zero: .allowed) == 0) }
        #expect(DurationText.seconds("-1s", zero: .allowed) == nil)
        #expect(DurationText.seconds("s", zero: .allowed) == nil)
        #expect(DurationText.seconds("nan", zero: .allowed) == nil)
        #expect(DurationText.format(seconds: 125) == "2m05s")
    }

    @Test func theDefaultSocketFollowsTheEnvironment() {
        let user = ["XDG_RUNTIME_DIR": "/run/user/1"]
        #expect(SocketLocation.daemonPath(environment: user.merging(["JOBD_SOCKET": "/x.sock"]) { $1 }, isRoot: false) == "/x.sock")
        #expect(SocketLocation.daemonPath(environment: user, isRoot: false) == "/run/user/1/jobd/jobd.sock")
        #expect(SocketLocation.daemonPath(environment: [:], isRoot: false) == "/run/jobd/jobd.sock")
        // A root daemon serves every user: never under root's own runtime directory (0700).
        #expect(SocketLocation.daemonPath(environment: ["XDG_RUNTIME_DIR": "/run/user/0"], isRoot: true) == "/run/jobd/jobd.sock")
        #expect(SocketLocation.daemonPath(environment: ["JOBD_SOCKET": "/x.sock"], isRoot: true) == "/x.sock")
        // A client uses its own daemon's socket only if it is there, else the system's.
        #expect(SocketLocation.clientPath(environment: user) { _ in true } == "/run/user/1/jobd/jobd.sock")
        #expect(SocketLocation.clientPath(environment: user) { _ in false } == "/run/jobd/jobd.sock")
        #expect(SocketLocation.clientPath(environment: user.merging(["JOBD_SOCKET": "/x.sock"]) { $1 }) { _ in true } == "/x.sock")
        #expect(SocketLocation.defaultDatabasePath(environment: ["HOME": "/home/a"]) == "/home/a/.local/state/jobd/jobd.db")
        #expect(SocketLocation.defaultDatabasePath(environment: ["XDG_STATE_HOME": "/s"]) == "/s/jobd/jobd.db")
    }
}

@Test func anArrayReplyEncodedPiecewiseIsTheSameJSON() throws {
    let jobs = [
        Job(id: JobID(1), state: .queued, kind: "noop", class: .io, classSource: .kind, ownerUID: 0, ownerGID: 0,
            createdAt: Timestamp(secondsSinceEpoch: 0)),
        Job(id: JobID(2), state: .succeeded, kind: "exec", argv: ["true"], class: .cpu, classSource: .default,
            ownerUID: 1, ownerGID: 1, createdAt: Timestamp(secondsSinceEpoch: 1)),
    ]
    // Compared as JSON values: the wire encoder does not sort keys, so the bytes may differ in key order.
    func value(_ bytes: [UInt8]) throws -> JSONValue { try WireJSON.decode(JSONValue.self, from: bytes) }
    let whole = try WireJSON.encode(VarlinkReply(parameters: Wait.Reply(jobs: jobs)))
    #expect(try value(WireJSON.encodeArrayReply(key: "jobs", jobs)) == value(whole))
    let empty = try WireJSON.encode(VarlinkReply(parameters: Wait.Reply(jobs: [])))
    #expect(try value(WireJSON.encodeArrayReply(key: "jobs", [Job]())) == value(empty))
    #expect(try WireJSON.decode(Wait.Reply.self, from: Array(value(WireJSON.encodeArrayReply(key: "jobs", jobs))["parameters"].map { try WireJSON.encode($0) } ?? [])).jobs == jobs)
}


@Test func theHandWrittenJobJSONIsTheEncodersJSON() throws {
    let jobs = [
        Job(id: JobID(1), state: .queued, kind: "noop", class: .io, classSource: .kind, ownerUID: 0, ownerGID: 0,
            createdAt: Timestamp(secondsSinceEpoch: 0)),
        Job(
            id: JobID(Int64.max), name: "quote \" backslash \\ slash / tab \t nl \n nul \u{0} bell \u{7} é 日本 🎉",
            state: .failed, kind: "exec", argv: ["sh", "-c", "echo 'a\"b' | tr a b\r\n"],
            env: ["PATH": "/usr/bin:/bin", "EMPTY": "", "\u{1F}": "\u{7F}"], cwd: "/tmp/x y",
            payload: .object(["n": .int(-9_223_372_036_854_775_808), "d": .double(0.1), "w": .double(3),
                              "big": .double(1e300), "tiny": .double(.leastNonzeroMagnitude), "a": .array([.null, .bool(true), .bool(false), .string("")])]),
            queue: "q", class: .cpu, classSource: .learned, classReason: "from 7 runs", signature: "/bin/sh", priority: -5,
            attempts: 2, maxAttempts: 3, timeoutSeconds: 1.5, ownerUID: UInt32.max, ownerGID: 7,
            createdAt: Timestamp(secondsSinceEpoch: 1_764_120_000.123), startedAt: Timestamp(secondsSinceEpoch: 1_764_120_001),
            finishedAt: Timestamp(secondsSinceEpoch: 1_764_120_002.5), exitCode: 3, signal: 9, error: "it \"failed\"",
            result: .string("r"), wallSeconds: 0.007023615, cpuUserSeconds: 1e-7, cpuSystemSeconds: 2,
            maxRSSBytes: Int64.max, workerPID: Int32.min, waitSeconds: 0),
    ]
    func value(_ bytes: [UInt8]) throws -> JSONValue { try WireJSON.decode(JSONValue.self, from: bytes) }
    for job in jobs {
        var writer = JSONWriter()
        try writer.write(job)
        #expect(try value(writer.bytes) == value(WireJSON.encode(job)))
        // Read back as the encoder's JSON reads back (timestamps keep milliseconds, so not always `job`).
        #expect(try WireJSON.decode(Job.self, from: writer.bytes) == WireJSON.decode(Job.self, from: WireJSON.encode(job)))
        let end = JobEnd(job)
        var endWriter = JSONWriter()
        endWriter.write(end)
        #expect(try value(endWriter.bytes) == value(WireJSON.encode(end)))
    }
    var reply = WireJSON.BoundedArrayReply(key: "jobs", limit: 1 << 20)
    for job in jobs { #expect(try reply.append(job)) }
    #expect(try value(reply.finish()) == value(WireJSON.encode(VarlinkReply(parameters: Wait.Reply(jobs: jobs)))))
    var nan = jobs[0]
    nan.wallSeconds = .nan
    var writer = JSONWriter()
    #expect(throws: EncodingError.self) { try writer.write(nan) }
}

@Test func aBoundedReplyRefusesTheJobThatWouldPassItsLimit() throws {
    let job = Job(id: JobID(1), state: .queued, kind: "noop", class: .io, classSource: .kind, ownerUID: 0, ownerGID: 0,
                  createdAt: Timestamp(secondsSinceEpoch: 0))
    var one = JSONWriter()
    try one.write(job)
    // Room for the opening `{"parameters":{"jobs":[`, the 64 bytes kept for the end, and two jobs but
    // not the comma between them.
    let opening = #"{"parameters":{"jobs":["#.utf8.count
    var reply = WireJSON.BoundedArrayReply(key: "jobs", limit: opening + 64 + 2 * one.bytes.count)
    #expect(try reply.append(job))
    #expect(try !reply.append(job))  // the second one's comma and bytes pass the limit
    #expect(reply.count == 1)
    let finished = reply.finish()
    #expect(try WireJSON.decode(VarlinkReply<Wait.Reply>.self, from: finished).parameters.jobs == [job])
}
