import Dispatch
import Foundation
import JobdHandlers
import JobdProtocol
import JobdRunners
import JobdTestSupport
import Testing

/// The in-process handler runner with real handlers, no daemon.
struct HandlerRunnerTests {
    /// Blocks its thread until released, whatever cancellation says: a library call with no way out.
    struct StuckHandler: BlockingJobHandler {
        let kind = "stuck"
        let declaredClass: JobClass? = .io
        let release: DispatchSemaphore

        func runBlocking(_ payload: JSONValue, context: HandlerContext) throws(HandlerError) -> JSONValue {
            release.wait()
            return .null
        }
    }

    static func runner(_ handler: any JobHandler, killGrace: Duration = .seconds(5)) -> HandlerRunner {
        HandlerRunner(
            registry: HandlerRegistry([handler]), measuresProcessCPU: false, killGrace: Setting(killGrace), output: .sink { _, _ in })
    }

    static func attempt(_ name: String, payload: JSONValue = .null) -> Attempt {
        Attempt(job: JobID(1), work: .handler(name: name, payload: payload), outputPath: "/dev/null", outputLimit: 0)
    }

    @Test func aHandlerThatIgnoresAStopLosesItsSlotAfterTheKillGrace() async {
        let release = DispatchSemaphore(value: 0)
        defer { release.signal() }  // let the abandoned thread go once the test is done
        let runner = Self.runner(StuckHandler(release: release), killGrace: .milliseconds(200))
        let control = RunControl()
        let started = ContinuousClock.now
        async let outcome = runner.run(Self.attempt("stuck"), control: control)
        control.stop(.cancelled)
        let ended = await outcome
        #expect(ended.error == "cancelled while running; the handler ignored cancellation for 0.2s, so its slot was freed")
        #expect(ContinuousClock.now - started < .seconds(5), "it returned after the grace, not when the handler did")
    }

    @Test func aHandlerThatReturnsInTimeKeepsItsOwnOutcome() async {
        let release = DispatchSemaphore(value: 0)
        release.signal()  // does not block (a semaphore made with 1 and left at 0 traps when it is freed)
        let ended = await Self.runner(StuckHandler(release: release)).run(Self.attempt("stuck"), control: RunControl())
        #expect(ended.error == nil && ended.exitCode == 0)
    }

    @Test func aFIFOIsRefusedAtOnceInsteadOfBlockingAThread() async throws {
        let directory = try TempDirectory()
        defer { directory.remove() }
        let fifo = directory.file("fifo")
        #expect(mkfifo(fifo, 0o600) == 0)
        let ended = await Self.runner(SHA256FileHandler()).run(
            Self.attempt("sha256", payload: .object(["path": .string(fifo)])), control: RunControl())
        #expect(ended.error == "cannot open \(fifo): not a regular file (a FIFO, socket or device is refused)")
    }
}
