import GRDB
import JobdProtocol
import JobdStore
import Logging
import Testing

/// Every attempt's outcome is kept (issue 13): the jobs row holds the latest, the attempts table the
/// earlier ones.
struct AttemptHistoryTests {
    private func withStore<R>(_ body: (SQLiteStore) async throws -> R) async throws -> R {
        let store = try SQLiteStore(writer: try DatabaseQueue(), logger: Logger(label: "test"))
        return try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { await store.run() }
            defer { store.close() }
            return try await body(store)
        }
    }

    private func submit(_ store: SQLiteStore, maxAttempts: Int = 3) async throws -> JobID {
        try await store.submit([
            NewJob(
                spec: JobSpec(argv: ["false"], maxAttempts: maxAttempts), class: .cpu, classSource: .default,
                classReason: nil, ownerUID: 1000, ownerGID: 1000, createdAt: Timestamp(secondsSinceEpoch: 1000))
        ]).ids[0]
    }

    @Test func aRetriedJobKeepsEachAttemptAndTheLatestComesFromItsRow() async throws {
        try await withStore { store in
            let id = try await submit(store)
            store.recordStarted(id, at: Timestamp(secondsSinceEpoch: 1001))
            try await store.finish(
                id, state: .queued, outcome: RunOutcome(exitCode: 1, error: "exited with code 1", wallSeconds: 0.5),
                at: Timestamp(secondsSinceEpoch: 1002)
            ).committed()
            store.recordStarted(id, at: Timestamp(secondsSinceEpoch: 1003))
            try await store.finish(
                id, state: .queued, outcome: RunOutcome(signal: 9, error: "killed by signal 9 (SIGKILL)", wallSeconds: 0.25),
                at: Timestamp(secondsSinceEpoch: 1004)
            ).committed()
            store.recordStarted(id, at: Timestamp(secondsSinceEpoch: 1005))
            try await store.checkWriter()  // the start is written behind the next write, not awaited
            var running = try await store.attempts(of: id)
            #expect(running.map(\.number) == [1, 2, 3])
            #expect(running[0].outcome?.exitCode == 1 && running[0].startedAt?.secondsSinceEpoch == 1001)
            #expect(running[0].finishedAt?.secondsSinceEpoch == 1002 && running[0].outcome?.error == "exited with code 1")
            #expect(running[1].outcome?.signal == 9 && running[1].outcome?.wallSeconds == 0.25)
            #expect(running[2].startedAt?.secondsSinceEpoch == 1005 && running[2].finishedAt == nil, "the third runs")

            try await store.finish(
                id, state: .dead, outcome: RunOutcome(exitCode: 2, error: "exited with code 2", wallSeconds: 1),
                at: Timestamp(secondsSinceEpoch: 1006)
            ).committed()
            running = try await store.attempts(of: id)
            #expect(running.count == 3 && running[2].outcome?.exitCode == 2 && running[2].finishedAt?.secondsSinceEpoch == 1006)
        }
    }

    @Test func anAttemptCutByAShutdownIsKeptWithItsReason() async throws {
        try await withStore { store in
            let id = try await submit(store)
            store.recordStarted(id, at: Timestamp(secondsSinceEpoch: 1001))
            let cut = RunOutcome(signal: 15, error: "jobd shut down while it ran; requeued for the next start", wallSeconds: 11)
            try await store.finish(id, state: .queued, outcome: cut, at: Timestamp(secondsSinceEpoch: 1012)).committed()
            let attempts = try await store.attempts(of: id)
            #expect(attempts.count == 1 && attempts[0].outcome?.error == "jobd shut down while it ran; requeued for the next start")
            #expect(attempts[0].outcome?.wallSeconds == 11 && attempts[0].outcome?.signal == 15, "its wall time and signal are kept")
            #expect(try await store.attempts(of: JobID(999)).isEmpty)
        }
    }

    @Test func aJobThatSucceedsAtOnceCostsNoAttemptRow() async throws {
        try await withStore { store in
            let id = try await submit(store, maxAttempts: 1)
            store.recordStarted(id, at: Timestamp(secondsSinceEpoch: 1001))
            try await store.finish(
                id, state: .succeeded, outcome: RunOutcome(exitCode: 0, wallSeconds: 0.1), at: Timestamp(secondsSinceEpoch: 1002)
            ).committed()
            let attempts = try await store.attempts(of: id)
            #expect(attempts.count == 1 && attempts[0].outcome?.exitCode == 0 && attempts[0].finishedAt?.secondsSinceEpoch == 1002)
        }
    }
}

/// What the review of the dependency code found in recovery.
struct RecoveryDependencyTests {
    @Test func aJobEndedDeadAtRecoveryCancelsWhatWaitsForIt() async throws {
        let queue = try DatabaseQueue()
        let store = try SQLiteStore(writer: queue, logger: Logger(label: "test"))
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { await store.run() }
            defer { store.close() }
            func job(_ spec: JobSpec) -> NewJob {
                NewJob(
                    spec: spec, class: .cpu, classSource: .default, classReason: nil, ownerUID: 1000, ownerGID: 1000,
                    createdAt: Timestamp(secondsSinceEpoch: 1000))
            }
            let ids = try await store.submit([
                job(JobSpec(argv: ["sleep", "1000"])), job(JobSpec(argv: ["true"], afterIndex: [0])),
                job(JobSpec(argv: ["true"], afterIndex: [1])),
            ]).ids
            store.recordStarted(ids[0], at: Timestamp(secondsSinceEpoch: 1001))
            try await store.checkWriter()
            // Two unclean stops already found it running; this recovery is the third.
            try await queue.write { try $0.execute(sql: "UPDATE jobs SET unclean_stops = 2 WHERE id = ?", arguments: [ids[0].rawValue]) }
            let startup = try await store.recover(at: Timestamp(secondsSinceEpoch: 1002))
            #expect(startup.poisoned == [ids[0]])
            #expect(startup.counts[.cpu]?.scheduled == 0, "nothing is left waiting for a dead job")
            // Each names the job it waited for: the dead one, then the one cancelled with it.
            for (id, waitedFor, state) in [(ids[1], ids[0], JobState.dead), (ids[2], ids[1], .cancelled)] {
                let waiting = try #require(try await store.job(id))
                #expect(waiting.state == .cancelled && waiting.error == SQLiteStore.dependencyFailure(waitedFor, state))
            }
            #expect(startup.counts[.cpu]?.cancelled == 2 && startup.counts[.cpu]?.dead == 1)
        }
    }
}
