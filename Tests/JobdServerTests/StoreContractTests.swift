import GRDB
import JobdProtocol
import JobdStore
import Logging
import Testing

/// The same checks of `JobStore`'s documented behaviour against `SQLiteStore` (on an in-memory
/// database) and `InMemoryStore`: what the dispatcher tests learn from the fake holds for the real one.
@Suite struct StoreContractTests {
    enum Backend: String, CaseIterable, CustomTestStringConvertible {
        case sqlite, memory
        var testDescription: String { rawValue }
    }

    /// Runs `body` with a fresh store of that backend (the SQLite one committing for the body's length).
    private func withStore<R>(_ backend: Backend, _ body: (any JobStore) async throws -> R) async throws -> R {
        switch backend {
        case .memory:
            return try await body(InMemoryStore())
        case .sqlite:
            let store = try SQLiteStore(writer: try DatabaseQueue(), logger: Harness.quietLogger)
            return try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { await store.run() }
                defer { store.close() }
                return try await body(store)
            }
        }
    }

    private func newJob(owner: UInt32 = 1000, maxAttempts: Int? = nil) -> NewJob {
        NewJob(
            spec: JobSpec(argv: ["true"], maxAttempts: maxAttempts), class: .cpu, classSource: .default,
            classReason: nil, ownerUID: owner, ownerGID: owner, createdAt: Timestamp(secondsSinceEpoch: 1000))
    }

    private func at(_ seconds: Double) -> Timestamp { Timestamp(secondsSinceEpoch: seconds) }

    /// Returns once every write queued before has committed (writes commit in order).
    private func settled(_ store: any JobStore) async throws {
        try await store.deleteProfile(owner: nil, signature: "no such signature").committed()
    }

    @Test(arguments: Backend.allCases)
    func idsIncreaseAndJobsStartQueued(_ backend: Backend) async throws {
        try await withStore(backend) { store in
            let first = try await store.submit([newJob(), newJob()]).ids
            let second = try await store.submit([newJob()]).ids
            #expect(first == [JobID(1), JobID(2)] && second == [JobID(3)])
            let job = try #require(try await store.job(JobID(3)))
            #expect(job.state == .queued && job.attempts == 0 && job.maxAttempts == 1)
            #expect(try await store.jobs([JobID(1), JobID(9)]).keys.sorted() == [JobID(1)], "unknown ids are absent")
            #expect(try await store.owners([JobID(2)]) == [JobID(2): 1000])
        }
    }

    @Test(arguments: Backend.allCases)
    func aRetryKeepsItsOutcomeWithoutAFinishTimeAndTheEndHasOne(_ backend: Backend) async throws {
        try await withStore(backend) { store in
            let id = try await store.submit([newJob(maxAttempts: 2)]).ids[0]
            store.recordStarted(id, at: at(10))
            let failed = RunOutcome(exitCode: 3, error: "exit 3", wallSeconds: 1)
            try await store.finish(id, state: .queued, outcome: failed, at: at(11)).committed()
            var job = try #require(try await store.job(id))
            #expect(job.state == .queued && job.attempts == 1 && job.exitCode == 3 && job.finishedAt == nil)
            store.recordStarted(id, at: at(12))
            try await settled(store)
            job = try #require(try await store.job(id))
            #expect(job.state == .running && job.attempts == 2 && job.error == nil && job.startedAt == at(12))
            let last = RunOutcome(exitCode: 4, wallSeconds: 2)
            try await store.finish(id, state: .dead, outcome: last, at: at(14)).committed()
            job = try #require(try await store.job(id))
            #expect(job.state == .dead && job.exitCode == 4 && job.finishedAt == at(14) && job.wallSeconds == 2)
        }
    }

    /// A retry is not an end: the jobs that wait for it keep waiting; its success releases them, and a
    /// last failure cancels them and theirs (the fake cancelled them at the retry, unlike SQLite).
    @Test(arguments: Backend.allCases)
    func aRetryLeavesItsDependentsWaitingAndItsEndDecidesThem(_ backend: Backend) async throws {
        try await withStore(backend) { store in
            for (lastState, dependentState) in [(JobState.succeeded, JobState.queued), (.dead, .cancelled)] {
                let first = try await store.submit([newJob(maxAttempts: 2)]).ids[0]
                var waiting = newJob()
                waiting.spec.after = [first]
                var waitingOnThat = newJob()
                let second = try await store.submit([waiting]).ids[0]
                waitingOnThat.spec.after = [second]
                let third = try await store.submit([waitingOnThat]).ids[0]
                store.recordStarted(first, at: at(10))
                try await store.finish(first, state: .queued, outcome: RunOutcome(exitCode: 1, wallSeconds: 0), at: at(11))
                    .committed()
                #expect(try await store.job(second)?.state == .scheduled, "a retry leaves it waiting")
                #expect(try await store.job(third)?.state == .scheduled)
                store.recordStarted(first, at: at(12))
                let exit = lastState == .succeeded ? 0 : 1
                try await store.finish(first, state: lastState, outcome: RunOutcome(exitCode: exit, wallSeconds: 0), at: at(13))
                    .committed()
                #expect(try await store.job(second)?.state == dependentState, "after \(lastState)")
                #expect(try await store.job(third)?.state == (lastState == .succeeded ? .scheduled : .cancelled))
            }
        }
    }

    /// A start recorded after the job's end (a worker's next job announced late, issue 19's review)
    /// changes nothing: a finished job never runs again after a restart.
    @Test(arguments: Backend.allCases)
    func aStartRecordedAfterTheEndChangesNothing(_ backend: Backend) async throws {
        try await withStore(backend) { store in
            let id = try await store.submit([newJob()]).ids[0]
            store.recordStarted(id, at: at(10))
            try await store.finish(id, state: .succeeded, outcome: RunOutcome(exitCode: 0, wallSeconds: 1), at: at(11))
                .committed()
            store.recordStarted(id, at: at(12))
            try await settled(store)
            let job = try #require(try await store.job(id))
            #expect(job.state == .succeeded && job.attempts == 1 && job.startedAt == at(10))
        }
    }

    /// A retry by hand: only an ended job, not while another unfinished job of its owner holds its unique
    /// key, and with one more attempt allowed (the fake skipped the key and the cap).
    @Test(arguments: Backend.allCases)
    func aRetryByHandTakesAnEndedJobUnlessItsKeyIsHeld(_ backend: Backend) async throws {
        try await withStore(backend) { store in
            var keyed = newJob()
            keyed.spec.uniqueKey = "nightly"
            let first = try await store.submit([keyed]).ids[0]
            guard case .notRetryable = try await store.retry(first, at: at(5)) else {
                Issue.record("a job that has not ended is not retried")
                return
            }
            store.recordStarted(first, at: at(10))
            try await store.finish(first, state: .failed, outcome: RunOutcome(exitCode: 1, wallSeconds: 0), at: at(11))
                .committed()
            let second = try await store.submit([keyed]).ids[0]
            #expect(second != first, "the key is free once the first job ended")
            guard case .keyHeld(let holder) = try await store.retry(first, at: at(12)) else {
                Issue.record("an unfinished job with the same key holds it")
                return
            }
            #expect(holder == second)
            try #require(try await store.cancelWaiting(second, at: at(13)))
            guard case .queued(let job) = try await store.retry(first, at: at(14)) else {
                Issue.record("the key is free again: the retry takes")
                return
            }
            #expect(job.state == .queued && job.maxAttempts == 2 && job.attempts == 1 && job.finishedAt == nil)
        }
    }

    @Test(arguments: Backend.allCases)
    func cancelWaitingRefusesARunningOrFinishedJob(_ backend: Backend) async throws {
        try await withStore(backend) { store in
            let ids = try await store.submit([newJob(), newJob(), newJob()]).ids
            store.recordStarted(ids[1], at: at(10))
            store.recordStarted(ids[2], at: at(10))
            let success = RunOutcome(exitCode: 0, wallSeconds: 0)
            try await store.finish(ids[2], state: .succeeded, outcome: success, at: at(11)).committed()
            let moved = try await store.cancelWaiting(ids[0], at: at(12))
            #expect(moved == [StateChange(id: ids[0], owner: 1000, class: .cpu, from: .queued, to: .cancelled)])
            #expect(try await store.cancelWaiting(ids[1], at: at(12)) == nil, "running")
            #expect(try await store.cancelWaiting(ids[2], at: at(12)) == nil, "finished")
            #expect(try await store.cancelWaiting(JobID(99), at: at(12)) == nil, "no such job")
            let cancelled = try #require(try await store.job(ids[0]))
            #expect(cancelled.state == .cancelled && cancelled.finishedAt == at(12))
            #expect(cancelled.error == "cancelled before it started")
            #expect(try await store.job(ids[1])?.state == .running)
        }
    }

    @Test(arguments: Backend.allCases)
    func requeueAndRecoverPutRunningJobsBackAndTheThirdUncleanStopEndsOneDead(_ backend: Backend) async throws {
        try await withStore(backend) { store in
            let ids = try await store.submit([newJob(), newJob(), newJob()]).ids
            store.recordStarted(ids[0], at: at(10))
            // A shutdown stops an attempt after 11 s: the job is queued again, the attempt kept as it ran.
            let stopped = RunOutcome(signal: 15, error: "jobd shut down while it ran; requeued", wallSeconds: 11)
            try await store.finish(ids[0], state: .queued, outcome: stopped, at: at(21)).committed()
            let requeued = try #require(try await store.job(ids[0]))
            #expect(requeued.state == .queued && requeued.finishedAt == nil && requeued.attempts == 1)
            let kept = try await store.attempts(of: ids[0])
            #expect(kept.count == 1 && kept[0].outcome?.wallSeconds == 11 && kept[0].outcome?.signal == 15, "\(kept)")
            #expect(kept.first?.outcome?.error == "jobd shut down while it ran; requeued")
            // Job 3 is found running by three recoveries in a row.
            for stop in 1...3 {
                store.recordStarted(ids[2], at: at(20))
                try await settled(store)
                let startup = try await store.recover(at: at(30))
                if stop < 3 {
                    #expect(startup.requeued == [ids[2]] && startup.poisoned.isEmpty)
                    #expect(startup.counts[.cpu]?.queued == 3 && startup.counts[.cpu]?.running == 0)
                } else {
                    #expect(startup.requeued.isEmpty && startup.poisoned == [ids[2]])
                    #expect(startup.counts[.cpu]?.dead == 1 && startup.counts[.cpu]?.queued == 2)
                }
            }
            let poisoned = try #require(try await store.job(ids[2]))
            #expect(poisoned.state == .dead && poisoned.attempts == 3 && poisoned.finishedAt == at(30))
            #expect(poisoned.error == "the daemon stopped uncleanly 3 times while it ran")
        }
    }

    // MARK: - Claims (issue 19: the store decides the order, the limits and the pauses)

    private func claim(_ store: any JobStore, cpu: Int = 0, io: Int = 0, at now: Double = 3000) async throws -> Claim {
        try await store.claim(ClaimRequest(slots: [.cpu: cpu, .io: io], now: at(now)))
    }

    /// Ready jobs are claimed by priority, then due time (`run_at`, else the submit time), then id; a
    /// delay that has run out makes its job `queued` in the claim, and a delay still ahead is the next due.
    @Test(arguments: Backend.allCases)
    func claimTakesByPriorityThenDueTimeThenIDAndMakesDueJobsQueued(_ backend: Backend) async throws {
        try await withStore(backend) { store in
            var delayed = newJob()
            delayed.spec.runAt = at(2000)
            var later = newJob()
            later.spec.runAt = at(5000)
            var urgent = newJob()
            urgent.createdAt = at(1500)
            urgent.spec.priority = 5
            var io = newJob()
            io.class = .io
            let ids = try await store.submit([newJob(), delayed, later, urgent, newJob(), io]).ids
            let first = try await claim(store, cpu: 3)
            #expect(first.jobs.map(\.id) == [ids[3], ids[0], ids[4]], "priority, then submit time, then id")
            #expect(first.due.map(\.id) == [ids[1]] && first.due.first?.to == .queued)
            #expect(first.nextDue == at(5000))
            #expect(first.jobs.allSatisfy { $0.state == .queued }, "claimed is not running")
            let second = try await claim(store, cpu: 5)
            #expect(second.jobs.map(\.id) == [ids[1]], "a claimed job is not claimed again; io is another class")
            #expect(try await claim(store, io: 1).jobs.map(\.id) == [ids[5]])
            #expect(try await store.cancelWaiting(ids[1], at: at(3001)) == nil, "a claimed job is its jobd's to stop")
        }
    }

    /// A claim starts the I/O jobs of the kinds it is told begin at once: one commit for claim and start.
    @Test(arguments: Backend.allCases)
    func aClaimStartsTheKindsThatBeginAtOnce(_ backend: Backend) async throws {
        try await withStore(backend) { store in
            var noop = newJob()
            noop.spec = JobSpec(kind: "noop")
            noop.class = .io
            var command = newJob()
            command.class = .io
            let ids = try await store.submit([noop, command]).ids
            let claim = try await store.claim(ClaimRequest(slots: [.io: 2], now: at(3000), startingKinds: ["noop"]))
            #expect(claim.jobs.map(\.id) == ids && claim.started == [ids[0]])
            #expect(claim.jobs.first?.attempts == 0, "the row as it was before the start")
            let started = try #require(try await store.job(ids[0]))
            #expect(started.state == .running && started.startedAt == at(3000) && started.attempts == 1)
            #expect(try await store.job(ids[1])?.state == .queued, "a command starts when its process runs")
        }
    }

    /// Jobs claimed ahead of the free slots are never started by the claim, and an unclaim gives an
    /// unstarted job back to the next claim.
    @Test(arguments: Backend.allCases)
    func jobsClaimedAheadWaitUnstartedAndCanBeGivenBack(_ backend: Backend) async throws {
        try await withStore(backend) { store in
            var noop = newJob()
            noop.spec = JobSpec(kind: "noop")
            noop.class = .io
            let ids = try await store.submit([noop, noop, noop]).ids
            let claim = try await store.claim(
                ClaimRequest(slots: [.io: 1], ahead: [.io: 1], now: at(3000), startingKinds: ["noop"]))
            #expect(claim.jobs.map(\.id) == [ids[0], ids[1]] && claim.started == [ids[0]])
            #expect(try await store.job(ids[1])?.state == .queued)
            try await store.unclaim([ids[0], ids[1]])
            let again = try await store.claim(ClaimRequest(slots: [.io: 5], now: at(3001)))
            #expect(again.jobs.map(\.id) == [ids[1], ids[2]], "the started one stays claimed; the other is back")
        }
    }

    /// A claim says which classes it emptied: not one it cut short at ``ClaimRequest/maximumJobs`` (a daemon
    /// with more I/O slots than that stalled, taking the short claim for an empty class), and not one whose
    /// one with jobs left after it filled the slots; a class whose jobs it took to the last (so the end of
    /// that job costs no empty claim), or whose ready jobs all sit in a paused queue, is empty for now.
    @Test(arguments: Backend.allCases)
    func aClaimSaysWhichClassesItEmptied(_ backend: Backend) async throws {
        try await withStore(backend) { store in
            var io = newJob()
            io.class = .io
            let count = ClaimRequest.maximumJobs + 2
            _ = try await store.submit(Array(repeating: io, count: count) + [newJob()])
            let capped = try await claim(store, cpu: 1, io: count)
            #expect(capped.jobs.count == ClaimRequest.maximumJobs)
            #expect(capped.exhausted == [.cpu], "cpu's only job was taken; io was cut short")
            var two = newJob()
            two.spec.priority = -1
            _ = try await store.submit([two, two])
            #expect(try await claim(store, cpu: 1).exhausted.isEmpty, "one of two taken: one is left")
            let rest = try await claim(store, cpu: 2, io: count)
            #expect(rest.jobs.count == count + 2 - capped.jobs.count, "io's rest and cpu's last")
            #expect(rest.exhausted == [.cpu, .io])
            var paused = newJob()
            paused.spec.queue = "held"
            _ = try await store.submit([paused])
            try await store.saveSchedulingControl(SchedulingControl(target: .queue("held"), paused: true))
            #expect(try await claim(store, cpu: 1).exhausted == [.cpu], "only the classes asked for are told")
            var limited = newJob()
            limited.spec.queue = "one"
            _ = try await store.submit([limited, limited])
            try await store.saveSchedulingControl(SchedulingControl(target: .queue("one"), limit: 1))
            let one = try await claim(store, cpu: 5)
            #expect(one.jobs.count == 1 && one.exhausted == [.cpu], "the other waits for room: nothing claimable")
        }
    }

    /// Pauses (all, a class, a queue) and queue limits apply in the claim; a limit counts the queue's
    /// claimed and running jobs.
    @Test(arguments: Backend.allCases)
    func claimAppliesPausesAndQueueLimits(_ backend: Backend) async throws {
        try await withStore(backend) { store in
            func inQueue(_ name: String) -> NewJob {
                var job = newJob()
                job.spec.queue = name
                return job
            }
            let ids = try await store.submit([inQueue("a"), inQueue("a"), inQueue("a"), inQueue("b"), newJob()]).ids
            try await store.saveSchedulingControl(SchedulingControl(target: .all, paused: true))
            #expect(try await claim(store, cpu: 10).jobs.isEmpty)
            try await store.saveSchedulingControl(SchedulingControl(target: .all))
            try await store.saveSchedulingControl(SchedulingControl(target: .jobClass(.cpu), paused: true))
            #expect(try await claim(store, cpu: 10).jobs.isEmpty)
            try await store.saveSchedulingControl(SchedulingControl(target: .jobClass(.cpu)))
            try await store.saveSchedulingControl(SchedulingControl(target: .queue("a"), limit: 1))
            try await store.saveSchedulingControl(SchedulingControl(target: .queue("b"), paused: true))
            #expect(try await claim(store, cpu: 10).jobs.map(\.id) == [ids[0], ids[4]], "one of a, none of b")
            #expect(try await claim(store, cpu: 10).jobs.isEmpty, "a's one runs still")
            store.recordStarted(ids[0], at: at(3001))
            try await store.finish(ids[0], state: .succeeded, outcome: RunOutcome(exitCode: 0, wallSeconds: 0), at: at(3002))
                .committed()
            #expect(try await claim(store, cpu: 10).jobs.map(\.id) == [ids[1]], "its end frees the queue's room")
        }
    }

    /// A retry gives its claim back with its outcome: claimable again at once, or when its pause ends.
    @Test(arguments: Backend.allCases)
    func aFinishGivesTheClaimBackAndARetryIsClaimedAgainWhenDue(_ backend: Backend) async throws {
        try await withStore(backend) { store in
            let id = try await store.submit([newJob(maxAttempts: 3)]).ids[0]
            #expect(try await claim(store, cpu: 1).jobs.map(\.id) == [id])
            store.recordStarted(id, at: at(3001))
            let failed = RunOutcome(exitCode: 1, wallSeconds: 0)
            try await store.finish(id, state: .queued, outcome: failed, at: at(3002), retryAt: nil).committed()
            #expect(try await claim(store, cpu: 1).jobs.map(\.id) == [id])
            store.recordStarted(id, at: at(3003))
            try await store.finish(id, state: .queued, outcome: failed, at: at(3004), retryAt: at(3010)).committed()
            let early = try await claim(store, cpu: 1, at: 3005)
            #expect(early.jobs.isEmpty && early.nextDue == at(3010))
            let due = try await claim(store, cpu: 1, at: 3010)
            #expect(due.jobs.map(\.id) == [id] && due.jobs.first?.attempts == 2)
        }
    }

    /// A start-up gives back what a dead jobd had claimed and not started.
    @Test(arguments: Backend.allCases)
    func recoverGivesClaimsBack(_ backend: Backend) async throws {
        try await withStore(backend) { store in
            let ids = try await store.submit([newJob(), newJob()]).ids
            #expect(try await claim(store, cpu: 2).jobs.count == 2)
            store.recordStarted(ids[0], at: at(3001))
            try await settled(store)
            let startup = try await store.recover(at: at(3002))
            #expect(startup.requeued == [ids[0]])
            #expect(try await claim(store, cpu: 2).jobs.map(\.id) == ids)
        }
    }

    /// A finish reports the dependents it moved: released on success (to `queued`, or still `scheduled`
    /// while their own time is ahead), cancelled transitively otherwise.
    @Test(arguments: Backend.allCases)
    func aFinishReportsTheDependentsItMoved(_ backend: Backend) async throws {
        try await withStore(backend) { store in
            let roots = try await store.submit([newJob(), newJob()]).ids
            var now = newJob()
            now.spec.after = [roots[0]]
            var ahead = newJob()
            ahead.spec.after = [roots[0]]
            ahead.spec.runAt = at(9000)
            var doomed = newJob()
            doomed.spec.after = [roots[1]]
            let waiting = try await store.submit([now, ahead, doomed]).ids
            var chained = newJob()
            chained.spec.after = [waiting[2]]
            let chain = try await store.submit([chained]).ids[0]
            let success = RunOutcome(exitCode: 0, wallSeconds: 0)
            let released = try await store.finish(roots[0], state: .succeeded, outcome: success, at: at(3000)).committed()
            #expect(released == [StateChange(id: waiting[0], owner: 1000, class: .cpu, from: .scheduled, to: .queued)])
            let failed = RunOutcome(exitCode: 1, wallSeconds: 0)
            let cancelled = try await store.finish(roots[1], state: .failed, outcome: failed, at: at(3001)).committed()
            #expect(Set(cancelled.map(\.id)) == [waiting[2], chain] && cancelled.allSatisfy { $0.to == .cancelled })
            #expect(try await store.job(waiting[1])?.state == .scheduled, "its own time is ahead")
        }
    }

    /// The per-user bounds hold in the submit's transaction: a queue past the user's bound, and
    /// dependencies past theirs, are refused; root's queues are not bounded.
    @Test(arguments: Backend.allCases)
    func submitRefusesAQueuePastTheUsersBound(_ backend: Backend) async throws {
        try await withStore(backend) { store in
            let bound = JobLimits.maximumQueuesPerUser
            let filled = (0..<bound).map { index in
                var job = newJob()
                job.spec.queue = "q\(index)"
                return job
            }
            _ = try await store.submit(filled)
            var more = newJob()
            more.spec.queue = "one-more"
            await #expect(throws: SubmitRefusal.tooManyQueues(index: 0, held: bound)) { _ = try await store.submit([more]) }
            var held = newJob()
            held.spec.queue = "q0"
            _ = try await store.submit([held])
            more.queuesBounded = false
            _ = try await store.submit([more])
        }
    }

    @Test(arguments: Backend.allCases)
    func pruneDeletesOnlyFinishedJobsOldestFinishFirst(_ backend: Backend) async throws {
        try await withStore(backend) { store in
            let ids = try await store.submit([newJob(), newJob(), newJob(owner: 7), newJob(), newJob()]).ids
            for (index, id) in ids.prefix(3).enumerated() {
                store.recordStarted(id, at: at(10))
                try await store.finish(
                    id, state: .succeeded, outcome: RunOutcome(exitCode: 0, wallSeconds: 0), at: at(Double(30 - index))
                ).committed()
            }
            store.recordStarted(ids[3], at: at(10))  // running; ids[4] stays queued
            try await settled(store)
            let everything = Set(JobState.allCases)
            func prune(by cutoff: Double, _ states: Set<JobState>, owner: UInt32? = nil, limit: Int = 10) async throws
                -> [JobID]
            {
                try await store.prune(finishedBy: at(cutoff), states: states, ownerUID: owner, limit: limit).map(\.id)
            }
            #expect(try await prune(by: 100, everything, owner: 7) == [ids[2]])
            let pruned = try await store.prune(finishedBy: at(100), states: everything, ownerUID: nil, limit: 1)
            #expect(pruned == [PrunedJob(id: ids[1], class: .cpu, state: .succeeded)], "oldest finish first")
            #expect(try await prune(by: 29, everything).isEmpty)
            #expect(try await prune(by: 100, [.queued, .running]).isEmpty)
            #expect(try await prune(by: 100, everything) == [ids[0]])
            #expect(try await store.jobs(ids).keys.sorted() == [ids[3], ids[4]], "unfinished jobs are never pruned")
        }
    }

    @Test(arguments: Backend.allCases)
    func listingIsNewestFirstAndSaysWhetherMoreMatch(_ backend: Backend) async throws {
        try await withStore(backend) { store in
            let ids = try await store.submit([newJob(), newJob(owner: 7), newJob(), newJob()]).ids
            let page = try await store.jobs(
                matching: JobFilter(states: nil, queue: nil, beforeID: nil, limit: 2, ownerUID: nil))
            #expect(page.jobs.map(\.id) == [ids[3], ids[2]] && page.more)
            let next = try await store.jobs(
                matching: JobFilter(states: [.queued], queue: "default", beforeID: ids[2], limit: 2, ownerUID: 1000))
            #expect(next.jobs.map(\.id) == [ids[0]] && !next.more)
        }
    }
}
