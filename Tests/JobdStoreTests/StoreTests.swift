import Foundation
import GRDB
import JobdProtocol
import JobdStore
import Logging
import Testing

struct StoreTests {
    private func withStore<R>(_ body: (SQLiteStore, DatabaseQueue) async throws -> R) async throws -> R {
        let queue = try DatabaseQueue()
        let store = try SQLiteStore(writer: queue, logger: Logger(label: "test"))
        return try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { await store.run() }
            defer { store.close() }
            return try await body(store, queue)
        }
    }

    private func newJob(_ argv: [String] = ["true"], class jobClass: JobClass = .cpu, owner: UInt32 = 1000) -> NewJob {
        NewJob(
            spec: JobSpec(argv: argv), class: jobClass, classSource: .default, classReason: nil, ownerUID: owner,
            ownerGID: owner, createdAt: Timestamp(secondsSinceEpoch: 1000))
    }

    @Test func submittedJobsGetIncreasingIdsAndAreQueued() async throws {
        try await withStore { store, _ in
            let ids = try await store.submit([newJob(), newJob(), newJob()]).ids
            #expect(ids == [JobID(1), JobID(2), JobID(3)])
            let job = try #require(try await store.job(JobID(2)))
            #expect(job.state == .queued && job.argv == ["true"] && job.ownerUID == 1000)
        }
    }

    @Test func concurrentSubmitsShareTransactionsAndAllCommit() async throws {
        try await withStore { store, _ in
            let ids = try await withThrowingTaskGroup(of: [JobID].self) { group in
                for _ in 0..<50 { group.addTask { try await store.submit([self.newJob()]).ids } }
                return try await group.reduce(into: []) { $0 += $1 }
            }
            #expect(Set(ids).count == 50)
            let (jobs, more) = try await store.jobs(
                matching: JobFilter(states: nil, queue: nil, beforeID: nil, limit: 100, ownerUID: nil))
            #expect(jobs.count == 50 && !more)
        }
    }

    @Test func oneFailingWriteDoesNotRollBackItsGroup() async throws {
        try await withStore { store, _ in
            var bad = newJob()
            bad.spec.maxAttempts = 0  // violates the schema's CHECK
            // Enqueued together, so they share one transaction; only the bad one fails.
            async let good = store.submit([newJob()]).ids
            async let failing: Result<[JobID], any Error> = { () async -> Result<[JobID], any Error> in
                do { return .success(try await store.submit([bad]).ids) } catch { return .failure(error) }
            }()
            let goodIDs = try await good
            let failed = await failing
            #expect(throws: (any Error).self) { try failed.get() }
            #expect(try await store.job(goodIDs[0]) != nil)
        }
    }

    @Test func recoveryRequeuesRunningJobsAndCountsByClassAndState() async throws {
        try await withStore { store, _ in
            let ids = try await store.submit([newJob(), newJob(class: .io), newJob()]).ids
            store.recordStarted(ids[0], at: Timestamp(secondsSinceEpoch: 1001))
            // Committed in order: awaiting the finish also commits the start queued before it.
            try await store.finish(
                ids[2], state: .succeeded, outcome: RunOutcome(exitCode: 0, wallSeconds: 1),
                at: Timestamp(secondsSinceEpoch: 1002)
            ).committed()
            let startup = try await store.recover(at: Timestamp(secondsSinceEpoch: 1003))
            #expect(startup.requeued == [ids[0]])
            #expect(startup.counts[.cpu]?.queued == 1 && startup.counts[.cpu]?.succeeded == 1)
            #expect(startup.counts[.io]?.queued == 1)
            let requeued = try #require(try await store.job(ids[0]))
            #expect(requeued.state == .queued && requeued.attempts == 1)
            #expect(requeued.error == "jobd stopped while attempt 1 ran; requeued")
        }
    }

    @Test func finishRecordsWhatTheRunLeft() async throws {
        try await withStore { store, _ in
            let id = try await store.submit([newJob()]).ids[0]
            store.recordStarted(id, at: Timestamp(secondsSinceEpoch: 1001))
            let outcome = RunOutcome(
                exitCode: nil, signal: 9, error: "killed by signal 9 (SIGKILL)", wallSeconds: 2.5, cpuUserSeconds: 1.25,
                cpuSystemSeconds: 0.25, maxRSSBytes: 4096, waitSeconds: 0.75)
            try await store.finish(id, state: .failed, outcome: outcome, at: Timestamp(secondsSinceEpoch: 1004)).committed()
            let job = try #require(try await store.job(id))
            #expect(job.state == .failed && job.signal == 9 && job.attempts == 1)
            #expect(job.cpuSeconds == 1.5 && job.wallSeconds == 2.5 && job.maxRSSBytes == 4096)
            #expect(job.waitSeconds == 0.75, "the run-queue wait is kept beside the CPU time (issue 10)")
            #expect(job.startedAt == Timestamp(secondsSinceEpoch: 1001))
            #expect(job.finishedAt == Timestamp(secondsSinceEpoch: 1004))
        }
    }

    @Test func onlyWaitingJobsCanBeCancelledHere() async throws {
        try await withStore { store, _ in
            let ids = try await store.submit([newJob(), newJob()]).ids
            store.recordStarted(ids[1], at: Timestamp(secondsSinceEpoch: 1001))
            #expect(try await store.cancelWaiting(ids[0], at: Timestamp(secondsSinceEpoch: 1002))?.map(\.id) == [ids[0]])
            #expect(try await store.cancelWaiting(ids[1], at: Timestamp(secondsSinceEpoch: 1002)) == nil)
            #expect(try await store.job(ids[0])?.state == .cancelled)
        }
    }

    @Test func listingFiltersByOwnerStateAndPages() async throws {
        try await withStore { store, _ in
            _ = try await store.submit([newJob(owner: 1), newJob(owner: 2), newJob(owner: 1), newJob(owner: 1)]).ids
            let mine = try await store.jobs(
                matching: JobFilter(states: [.queued], queue: nil, beforeID: nil, limit: 2, ownerUID: 1))
            #expect(mine.jobs.map(\.id.rawValue) == [4, 3] && mine.more)
            let rest = try await store.jobs(
                matching: JobFilter(states: nil, queue: nil, beforeID: JobID(3), limit: 2, ownerUID: 1))
            #expect(rest.jobs.map(\.id.rawValue) == [1] && !rest.more)
            let none = try await store.jobs(
                matching: JobFilter(states: [.failed], queue: nil, beforeID: nil, limit: 10, ownerUID: nil))
            #expect(none.jobs.isEmpty)
        }
    }

    /// The log is copied back into the database file in the background, long before the writer's own
    /// automatic checkpoint (64 MiB of log) would: no commit pays for a checkpoint.
    @Test func theLogIsCheckpointedInTheBackgroundNotByCommits() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("jobd-store-\(UUID())").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let path = directory + "/jobd.db"
        func size(_ file: String) -> Int { ((try? FileManager.default.attributesOfItem(atPath: file))?[.size] as? Int) ?? 0 }
        let store = try SQLiteStore(path: path, durability: .normal, logger: Logger(label: "test"))
        let running = Task { await store.run() }
        let before = size(path)
        // 2,000 jobs of about 1 KiB: a few MiB of log, far below the writer's own threshold.
        for _ in 0..<20 {
            _ = try await store.submit((0..<100).map { _ in newJob(Array(repeating: "argument", count: 100)) })
        }
        let deadline = ContinuousClock.now + .seconds(10)
        while size(path) < before + 1_000_000, ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(50))
        }
        #expect(size(path) >= before + 1_000_000, "the jobs reached the database file: \(before) → \(size(path)) bytes")
        store.close()
        await running.value
    }

    @Test func aDatabaseWithAnUnknownMigrationIsRefused() async throws {
        let queue = try DatabaseQueue()
        _ = try SQLiteStore(writer: queue, logger: Logger(label: "test"))
        try await queue.write { db in
            try db.execute(sql: "INSERT INTO grdb_migrations (identifier) VALUES ('0099_future')")
        }
        #expect {
            _ = try SQLiteStore(writer: queue, logger: Logger(label: "test"))
        } throws: { error in
            "\(error)".contains("written by a newer jobd") && "\(error)".contains("0099_future")
        }
    }

    @Test func profilesKeepTheirCPUAndDemandRatiosApart() async throws {
        try await withStore { store, _ in
            let profile = Profile(
                ownerUID: 1000, signature: "/usr/bin/sh /srv/burn.sh", runs: 3, cpuRatio: 0.17, demandRatio: 0.98,
                learnedClass: .cpu, changedAt: Timestamp(secondsSinceEpoch: 1000))
            try await store.saveProfile(profile, at: Timestamp(secondsSinceEpoch: 1000)).committed()
            #expect(try await store.profiles() == [profile])
        }
    }

    @Test func pruneDeletesOnlyFinishedJobsOldEnoughInTheStatesAskedAndCascades() async throws {
        try await withStore { store, queue in
            let ids = try await store.submit([
                newJob(owner: 1000), newJob(owner: 1000), newJob(owner: 1000), newJob(owner: 2000), newJob(owner: 1000),
            ]).ids
            let outcome = RunOutcome(exitCode: 1, wallSeconds: 1)
            try await store.finish(ids[0], state: .failed, outcome: outcome, at: Timestamp(secondsSinceEpoch: 1010)).committed()
            try await store.finish(ids[1], state: .succeeded, outcome: outcome, at: Timestamp(secondsSinceEpoch: 1010)).committed()
            try await store.finish(ids[3], state: .failed, outcome: outcome, at: Timestamp(secondsSinceEpoch: 1010)).committed()
            try await store.finish(ids[4], state: .failed, outcome: outcome, at: Timestamp(secondsSinceEpoch: 2000)).committed()
            store.recordStarted(ids[2], at: Timestamp(secondsSinceEpoch: 1001))
            // ids[2] (running) depends on ids[0]: the row goes with the pruned job.
            try await queue.write { db in
                try db.execute(sql: "INSERT INTO job_dependencies VALUES (?, ?)", arguments: [ids[2].rawValue, ids[0].rawValue])
            }
            let everyState = Set(JobState.allCases)
            let pruned = try await store.prune(
                finishedBy: Timestamp(secondsSinceEpoch: 1500), states: everyState.subtracting([.succeeded]),
                ownerUID: 1000, limit: 1000)
            #expect(pruned == [PrunedJob(id: ids[0], class: .cpu, state: .failed)], "old enough, failed, 1000's")
            #expect(try await store.job(ids[0]) == nil)
            #expect(try await store.job(ids[1]) != nil, "succeeded was not asked for")
            #expect(try await store.job(ids[2])?.state == .running, "never a job that has not finished")
            #expect(try await store.job(ids[3]) != nil, "another owner's")
            #expect(try await store.job(ids[4]) != nil, "finished after the cutoff")
            let dependencies = try await queue.read { try Int.fetchOne($0, sql: "SELECT COUNT(*) FROM job_dependencies") }
            #expect(dependencies == 0)

            let batch = try await store.prune(
                finishedBy: Timestamp(secondsSinceEpoch: 3000), states: everyState, ownerUID: nil, limit: 2)
            #expect(batch.count == 2, "at most limit per call")
            let rest = try await store.prune(
                finishedBy: Timestamp(secondsSinceEpoch: 3000), states: everyState, ownerUID: nil, limit: 2)
            #expect(rest.count == 1)
            #expect(try await store.job(ids[2])?.state == .running)
        }
    }

    @Test func migratingTwiceIsANoOp() throws {
        let queue = try DatabaseQueue()
        _ = try SQLiteStore(writer: queue, logger: Logger(label: "test"))
        _ = try SQLiteStore(writer: queue, logger: Logger(label: "test"))
        let applied = try queue.read { try String.fetchAll($0, sql: "SELECT identifier FROM grdb_migrations") }
        #expect(
            applied == [
                "0001_init", "0002_profiles", "0003_unclean_stops", "0004_profiles_per_owner", "0005_finished_at_index",
                "0006_demand", "0007_attempts", "0008_backoff", "0009_unique_and_dependencies", "0010_queue_controls", "0011_schedules", "0012_hooks", "0013_claims",
            ],
            "each migration once, in order")
    }
}
