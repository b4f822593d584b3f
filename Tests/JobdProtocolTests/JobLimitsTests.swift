import Foundation
import JobdProtocol
import Testing

/// Every number and size of a request against its range in `JobLimits` (issue 9, item 1a).
struct JobLimitsTests {
    private let exec = JobSpec(argv: ["true"])

    private func with(_ change: (inout JobSpec) -> Void) -> JobSpec {
        var spec = exec
        change(&spec)
        return spec
    }

    @Test func timeoutsOutsideOneYearOrNotFiniteAreRefusedNamingTheRange() {
        #expect(with { $0.timeoutSeconds = 1e16 }.validate() == "timeout_seconds must be in (0, 31536000] seconds, got 1e+16")
        for bad in [0, -1, .infinity, -.infinity, .nan, 31_536_000.5] as [Double] {
            #expect(with { $0.timeoutSeconds = bad }.validate() != nil, "\(bad)")
        }
        for good in [0.001, 1, 31_536_000] as [Double] {
            #expect(with { $0.timeoutSeconds = good }.validate() == nil, "\(good)")
        }
    }

    @Test func prioritiesAttemptsAndSizesHaveRanges() {
        #expect(with { $0.priority = 1_000_000 }.validate() == nil)
        #expect(with { $0.priority = -1_000_001 }.validate()?.hasPrefix("priority must be in -1000000...1000000") == true)
        #expect(with { $0.priority = .max }.validate() != nil)
        #expect(with { $0.maxAttempts = 100 }.validate() == nil)
        #expect(with { $0.maxAttempts = 1_000_000_000 }.validate()?.contains("cannot retry without bound") == true)
        #expect(with { $0.name = String(repeating: "n", count: 256) }.validate() == nil)
        #expect(with { $0.name = String(repeating: "n", count: 257) }.validate()?.hasPrefix("name is 257 bytes") == true)
        #expect(with { $0.argv = Array(repeating: "x", count: 4097) }.validate()?.hasPrefix("argv has 4097") == true)
        let env = Dictionary(uniqueKeysWithValues: (0...4096).map { ("K\($0)", "v") })
        #expect(with { $0.env = env }.validate()?.hasPrefix("env has 4097") == true)
        #expect(with { $0.cwd = "/" + String(repeating: "d", count: 4096) }.validate()?.hasPrefix("cwd is 4097") == true)
        #expect(with { $0.cwd = "relative/dir" }.validate()?.hasPrefix("cwd must be an absolute path") == true)
    }

    @Test func queueNamesAreShortAndPlain() {
        for good in ["default", "a", "build.nightly-2_x", String(repeating: "q", count: 64)] {
            #expect(with { $0.queue = good }.validate() == nil, "\(good)")
        }
        for bad in ["", String(repeating: "q", count: 65), "a b", "a/b", "ä", "x\u{0}"] {
            #expect(with { $0.queue = bad }.validate()?.hasPrefix("queue must be 1 to 64 bytes") == true, "\(bad)")
        }
    }

    @Test func nulBytesInEnvAndCwdAreRefusedNotTruncated() {
        #expect(with { $0.env = ["A\u{0}B": "v"] }.validate()?.contains("env name") == true)
        #expect(with { $0.env = ["PATH": "/bin\u{0}/evil"] }.validate() == #"env value of "PATH" contains a NUL byte"#)
        #expect(with { $0.cwd = "/tmp\u{0}/x" }.validate() == "cwd contains a NUL byte")
    }

    @Test func idsOutOfRangeDoNotDecode() throws {
        #expect(try WireJSON.decode(Get.Parameters.self, from: Array(#"{"id": 9223372036854775807}"#.utf8)).id.rawValue == .max)
        for bad in ["0", "-1", "9223372036854775808", "1e300", "1.5"] {
            #expect(throws: DecodingError.self, "\(bad)") {
                try WireJSON.decode(Get.Parameters.self, from: Array(#"{"id": \#(bad)}"#.utf8))
            }
        }
    }

    @Test func anErrorWithTheLargestIDDecodesOnTheClientWithoutATrap() throws {
        let reply = Array(#"{"error": "io.jobd.JobNotFound", "parameters": {"id": 9223372036854775807}}"#.utf8)
        let parameters = try WireJSON.decode(VarlinkErrorReply.self, from: reply).parameters
        #expect(JobdError(name: "io.jobd.JobNotFound", parameters: parameters) == .jobNotFound(JobID(.max)))
        #expect(JobdError(name: "io.jobd.InvalidJob", parameters: ["index": .double(1e300), "reason": .string("r")])
            == .invalidJob(index: 0, reason: "r"))
    }

    @Test func durationsFromStoredValuesNeverTrap() {
        #expect(Duration.seconds(checked: 1.5) == .milliseconds(1500))
        #expect(Duration.seconds(checked: 1e16) == .seconds(31_536_000))
        #expect(Duration.seconds(checked: .infinity) == .seconds(31_536_000))
        #expect(Duration.seconds(checked: .nan) == .zero)
        #expect(Duration.seconds(checked: -5) == .zero)
        #expect(DurationText.format(seconds: 1e300) != "")
        #expect(DurationText.format(seconds: .nan) != "")
        #expect(DurationText.seconds("1e308d") == nil, "a duration that overflows to infinity is not a duration")
    }
}

/// Item 12: a field this jobd does not know is refused, naming it, rather than silently ignored.
@Test func unknownJobSpecFieldsAreRefusedNamingTheField() throws {
    let call = Array(#"{"parameters": {"jobs": [{"argv": ["true"], "stdin_text": "from a later jobd"}]}}"#.utf8)
    do {
        _ = try WireJSON.decode(VarlinkCallParameters<Submit.Parameters>.self, from: call)
        Issue.record("a JobSpec with stdin_text decoded")
    } catch DecodingError.dataCorrupted(let context) {
        #expect(context.codingPath.map { $0.intValue.map(String.init) ?? $0.stringValue } == ["parameters", "jobs", "0", "stdin_text"])
    }
    // What jobctl encodes still decodes: absent fields are left out, known ones round-trip.
    let spec = JobSpec(argv: ["true"], env: ["A": "b"], cwd: "/", name: "n", queue: "q", class: .io, priority: 3,
                       timeoutSeconds: 2, maxAttempts: 4)
    #expect(try WireJSON.decode(JobSpec.self, from: WireJSON.encode(spec)) == spec)
    #expect(try WireJSON.decode(JobSpec.self, from: WireJSON.encode(JobSpec(kind: "noop"))) == JobSpec(kind: "noop"))
}
