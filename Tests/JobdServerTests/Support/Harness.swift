import JobdHandlers
import JobdProtocol
import JobdRunners
import JobdScheduler
@testable import JobdServer
import JobdStore
import JobdTestSupport
import Logging
import Synchronization
import Testing

/// A dispatcher wired to an in-memory store, fake runners and a test clock, running in a task of the
/// test: what `JobdDaemon` builds, minus the socket, SQLite and processes.
///
/// `Harness.with { harness in ... }` runs the dispatcher for the body and drains it afterwards (every
/// blocked fake attempt is stopped then), so no test leaves a task behind.
struct Harness: Sendable {
    let store: InMemoryStore
    let clock: TestClock
    let pool: FakeRunner
    let exec: FakeRunner
    let handler: FakeRunner
    let dispatcher: Dispatcher
    let configuration: DaemonConfiguration
    let profileBook: ProfileBook
    let directory: TempDirectory

    /// The owner of the jobs `submit` makes (not root: an attempt of a root daemon runs as them).
    static let owner: UInt32 = 1000

    static let quietLogger = Logger(label: "jobd-test", factory: { _ in SwiftLogNoOpLogHandler() })

    /// - Parameters:
    ///   - counts: the counts start-up found (for jobs put back with `dispatcher.enqueue`).
    static func with<R: Sendable>(
        cpuSlots: Int = 2, ioSlots: Int = 64, outputLimit: Int64 = 4096,
        store: InMemoryStore = InMemoryStore(), clock: TestClock = TestClock(),
        pool: FakeRunner = FakeRunner("pool"), exec: FakeRunner = FakeRunner("exec"),
        handler: FakeRunner = FakeRunner("handler"), counts: [JobClass: StateCounts] = [:],
        _ body: (Harness) async throws -> R
    ) async throws -> R {
        let directory = try TempDirectory()
        defer { directory.remove() }
        var configuration = DaemonConfiguration(
            socketPath: directory.file("unused.sock"), databasePath: directory.file("unused.db"),
            logsDirectory: directory.path, cpuSlots: cpuSlots, ioConcurrency: ioSlots, outputLimitBytes: outputLimit,
            killGrace: .milliseconds(200), shutdownGrace: .milliseconds(500))
        configuration.reclassifyAfter = .seconds(3600)
        configuration.cpuQueuedPerWorker = 0  // the fake pool is one runner: a job at a time per slot
        let profileBook = ProfileBook(store: store, profiles: [], thresholds: configuration.thresholds)
        let dispatcher = Dispatcher(
            store: store, runners: Runners(pool: pool, exec: exec, handler: handler, handlerProcess: handler),
            profileBook: profileBook,
            burnWatch: nil, workerStatuses: { PoolStatus(workers: []) }, configuration: Setting(configuration), counts: counts,
            logger: quietLogger, now: clock.now)
        let harness = Harness(
            store: store, clock: clock, pool: pool, exec: exec, handler: handler, dispatcher: dispatcher,
            configuration: configuration, profileBook: profileBook, directory: directory)
        return try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { await dispatcher.run() }
            let result: R
            do {
                result = try await body(harness)
            } catch {
                await dispatcher.drain(grace: .zero)
                throw error
            }
            await dispatcher.drain(grace: .zero)
            try await group.waitForAll()
            return result
        }
    }

    // MARK: - Jobs

    /// Stores jobs and hands them to the dispatcher, as `io.jobd.Submit` does after its commit; each
    /// spec's `class` (CPU when absent) is taken as a hint.
    @discardableResult
    func submit(_ specs: [JobSpec]) async throws -> [JobID] {
        let newJobs = specs.map { spec in
            NewJob(
                spec: spec, class: spec.class ?? .cpu, classSource: spec.class == nil ? .default : .hint,
                classReason: nil, ownerUID: Self.owner, ownerGID: Self.owner, createdAt: clock.now())
        }
        let stored = try await store.submit(newJobs)
        var accepted: [Job] = []
        for (index, job) in newJobs.enumerated() where !stored.existing.contains(index) {
            accepted.append(job.record(id: stored.ids[index], waiting: stored.waitsFor[index] != nil))
        }
        await dispatcher.accept(accepted)
        return stored.ids
    }

    func submit(_ spec: JobSpec) async throws -> JobID {
        try await submit([spec])[0]
    }

    /// Waits in the dispatcher until the jobs have finished (committed); fails after `limit`.
    /// - Returns: what `waitUntilFinished` answered (false: the dispatcher drained first).
    @discardableResult
    func waitUntilFinished(_ ids: [JobID], within limit: Duration = .seconds(10)) async throws -> Bool {
        let dispatcher = dispatcher
        return try await withDeadline("jobs \(ids) finishing", within: limit) {
            try await dispatcher.waitUntilFinished(ids)
        }
    }

    /// The job's committed row.
    func row(_ id: JobID) throws -> Job {
        try #require(store.row(id), "job \(id) has a row")
    }

    func counts(_ jobClass: JobClass) async -> StateCounts {
        await dispatcher.snapshot().counts[jobClass] ?? StateCounts()
    }
}

/// A value a test task sets and the test reads (a `Mutex` cannot be captured by a child task).
final class Locked<Value: Sendable>: Sendable {
    private let value: Mutex<Value>
    init(_ value: Value) { self.value = Mutex(value) }
    func set(_ newValue: Value) { value.withLock { $0 = newValue } }
    var get: Value { value.withLock { $0 } }
}
