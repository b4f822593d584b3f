import Foundation
import JobdProtocol
import JobdRunners
import JobdTestSupport
import Testing

/// The runner with real child processes, no daemon.
struct ExecRunnerTests {
    static let reactor = ProcessReactor()

    private func run(
        _ argv: [String], timeout: Duration? = nil, outputLimit: Int64 = 1 << 20, control: RunControl = RunControl()
    ) async throws -> (outcome: JobdProtocolOutcome, output: String) {
        let directory = try TempDirectory()
        defer { directory.remove() }
        let runner = ExecRunner(reactor: Self.reactor, killGrace: Setting(.milliseconds(300)), daemonEnvironment: ProcessInfo.processInfo.environment)
        let job = Attempt(
            job: JobID(1), work: .exec(argv: argv), outputPath: directory.file("out"), outputLimit: outputLimit,
            timeout: timeout)
        let outcome = await runner.run(job, control: control)
        let output = (try? String(contentsOfFile: directory.file("out"), encoding: .utf8)) ?? ""
        return (outcome, output)
    }

    @Test func exitCodeOutputAndRusage() async throws {
        let (outcome, output) = try await run(["sh", "-c", "echo out; echo err >&2; exit 3"])
        #expect(outcome.exitCode == 3 && outcome.signal == nil && outcome.error == "exited with code 3")
        #expect(output == "out\nerr\n")
        #expect(outcome.wallSeconds > 0)
    }

    @Test func aSignalDeathIsReported() async throws {
        let (outcome, _) = try await run(["sh", "-c", "kill -TERM $$"])
        #expect(outcome.signal == 15 && outcome.exitCode == nil)
        #expect(outcome.error == "killed by signal 15 (SIGTERM)")
    }

    @Test func aTimeoutStopsTheProcessGroupAndEscalates() async throws {
        // The shell ignores SIGTERM, so only the SIGKILL after the grace period ends it.
        let started = ContinuousClock.now
        let (outcome, _) = try await run(["sh", "-c", "trap '' TERM; sleep 30"], timeout: .milliseconds(200))
        #expect(outcome.signal == 9)
        #expect(outcome.error?.hasPrefix("timeout") == true)
        #expect(ContinuousClock.now - started < .seconds(10))
    }

    @Test func aStopBeforeTheProcessStartsTakesEffectWhenItDoes() async throws {
        let control = RunControl()
        control.stop(.cancelled)
        let (outcome, _) = try await run(["sleep", "30"], control: control)
        #expect(outcome.error == "cancelled while running")
        #expect(control.stopReason == .cancelled)
    }

    @Test func outputOverTheLimitIsDroppedButDrained() async throws {
        let (outcome, output) = try await run(["sh", "-c", "head -c 200000 /dev/zero | tr '\\0' y"], outputLimit: 100)
        #expect(outcome.isSuccess, "the writer was never blocked by a full pipe")
        // The limit holds for the log and its index: one run of stdout costs one record.
        #expect(output == String(repeating: "y", count: 100 - OutputIndex.recordSize))
    }

    @Test func lookupReportsMissingAndUnexecutableCommands() async {
        #expect(await ExecutableLookup.resolve("sh", searchPath: "/nowhere:/bin", cwd: nil) == .success("/bin/sh"))
        #expect(await ExecutableLookup.resolve("zzz-none", searchPath: "/bin", cwd: nil) == .failure(.notFound("zzz-none")))
        #expect(await ExecutableLookup.resolve("/etc/passwd", searchPath: nil, cwd: nil) == .failure(.notExecutable("/etc/passwd")))
        #expect(await ExecutableLookup.resolve("./sh", searchPath: nil, cwd: "/bin") == .success("/bin/./sh"))
    }

    @Test(.enabled(if: getuid() == 0, "needs root: a lookup as nobody"))
    func aLookupAsAnotherUserHasOnlyTheirRights() async {
        let nobody = Identity(uid: 65534, gid: 65534)
        #expect(await ExecutableLookup.resolve("sh", searchPath: "/nowhere:/bin", cwd: nil, as: nobody) == .success("/bin/sh"))
        #expect(await ExecutableLookup.resolve("/etc/shadow", searchPath: nil, cwd: nil, as: nobody) == .failure(.notExecutable("/etc/shadow")))
    }

    @Test func aCommandThatIsNotFoundOrNotExecutableFailsItsAttemptWithTheLookupsWords() async throws {
        #expect(try await run(["zzz-none"]).outcome.error == "command not found: zzz-none")
        #expect(try await run(["/etc/passwd"]).outcome.error == "not executable: /etc/passwd (permission denied)")
        #expect(try await run(["/tmp"]).outcome.error == "is a directory, not a command: /tmp")
    }

    @Test func manyConcurrentChildrenAreAwaitedWithoutAThreadEach() async throws {
        let started = ContinuousClock.now
        let outcomes = try await withThrowingTaskGroup(of: Bool.self) { group in
            for _ in 0..<200 { group.addTask { try await self.run(["sleep", "1"]).outcome.isSuccess } }
            return try await group.reduce(into: 0) { $0 += $1 ? 1 : 0 }
        }
        #expect(outcomes == 200)
        #expect(ContinuousClock.now - started < .seconds(8), "200 one-second sleeps overlap")
    }
}

typealias JobdProtocolOutcome = RunOutcome
