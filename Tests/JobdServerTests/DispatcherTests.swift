import Foundation
import JobdProtocol
@testable import JobdRunners
@testable import JobdServer
import JobdStore
import JobdTestSupport
import Synchronization
import Testing

/// The dispatcher against an in-memory store, fake runners and a test clock: completion, retries,
/// cancel and drain, with no socket, SQLite or process.
@Suite struct DispatcherTests {
    // MARK: - Completion

    @Test func aJobRunsOnceAndItsOutcomeIsStoredAtTheClocksTimes() async throws {
        let clock = TestClock()
        let started = clock.now()
        // The attempt "takes" 5 s of the test clock.
        let pool = FakeRunner("pool", onStart: { _ in clock.advance(bySeconds: 5) })
        try await Harness.with(clock: clock, pool: pool) { harness in
            let id = try await harness.submit(JobSpec(argv: ["/bin/true"]))
            #expect(try await harness.waitUntilFinished([id]))
            let job = try harness.row(id)
            #expect(job.state == .succeeded)
            #expect(job.attempts == 1)
            #expect(job.exitCode == 0 && job.error == nil)
            #expect(job.startedAt == started, "started_at comes from the injected clock")
            #expect(job.finishedAt == Timestamp(secondsSinceEpoch: started.secondsSinceEpoch + 5))
            #expect(pool.attempts.map(\.job) == [id], "one attempt, on the pool")
            #expect(harness.exec.attempts.isEmpty && harness.handler.attempts.isEmpty)
            let writes = harness.store.committedWrites.filter { $0.job == id }
            #expect(writes.count == 2)
            #expect(writes.first == .start(id, at: started), "the start is written before the outcome")
            guard case .finish(_, .succeeded, let outcome, _)? = writes.last else {
                Issue.record("no finish written: \(writes)")
                return
            }
            #expect(outcome.exitCode == 0)
            let counts = await harness.counts(.cpu)
            #expect(counts.succeeded == 1 && counts.running == 0 && counts.queued == 0, "\(counts)")
            #expect(await harness.dispatcher.snapshot().finishedSinceStart == 1)
            #expect(await harness.dispatcher.isHeld(id) == false)
        }
    }

    @Test func anAttemptCarriesTheJobsWorkIdentityOutputLimitAndTimeout() async throws {
        try await Harness.with(outputLimit: 12_345) { harness in
            let command = try await harness.submit(
                JobSpec(argv: ["/bin/echo", "a b"], env: ["K": "v"], cwd: "/tmp", class: .cpu, timeoutSeconds: 2.5))
            let handler = try await harness.submit(
                JobSpec(kind: "noop", payload: .object(["n": .int(7)]), class: .io))
            #expect(try await harness.waitUntilFinished([command, handler]))
            let attempt = try #require(harness.pool.attempts(of: command).first)
            #expect(attempt.work == .exec(argv: ["/bin/echo", "a b"]))
            #expect(attempt.environment == ["K": "v"])
            #expect(attempt.cwd == "/tmp")
            // Only a root daemon takes on its submitter's identity.
            let identity = SystemInfo.userID == 0 ? Identity(uid: Harness.owner, gid: Harness.owner) : nil
            #expect(attempt.identity == identity)
            #expect(attempt.outputPath == harness.directory.path + "/\(command).log")
            #expect(attempt.outputLimit == 12_345)
            #expect(attempt.timeout == .milliseconds(2500))
            let handlerAttempt = try #require(harness.handler.attempts(of: handler).first)
            #expect(handlerAttempt.work == .handler(name: "noop", payload: .object(["n": .int(7)])))
            #expect(handlerAttempt.timeout == nil)
            #expect(handlerAttempt.outputPath == harness.directory.path + "/\(handler).log")
        }
    }

    @Test func eachPathRunsOnItsRunner() async throws {
        try await Harness.with { harness in
            let cpuCommand = try await harness.submit(JobSpec(argv: ["/bin/true"], class: .cpu))
            let cpuHandler = try await harness.submit(JobSpec(kind: "sha256", payload: .object([:]), class: .cpu))
            let ioCommand = try await harness.submit(JobSpec(argv: ["/bin/true"], class: .io))
            let ioHandler = try await harness.submit(JobSpec(kind: "sleep", payload: .object([:]), class: .io))
            #expect(try await harness.waitUntilFinished([cpuCommand, cpuHandler, ioCommand, ioHandler]))
            #expect(Set(harness.pool.attempts.map(\.job)) == [cpuCommand, cpuHandler], "CPU jobs, commands or not")
            #expect(harness.exec.attempts.map(\.job) == [ioCommand], "I/O commands")
            #expect(harness.handler.attempts.map(\.job) == [ioHandler], "I/O handlers")
        }
    }

    // MARK: - Retries

    @Test func aJobWithoutRetriesThatFailsEndsFailed() async throws {
        try await Harness.with(pool: FakeRunner("pool", always: .exit(3))) { harness in
            let id = try await harness.submit(JobSpec(argv: ["false"]))
            #expect(try await harness.waitUntilFinished([id]))
            let job = try harness.row(id)
            #expect(job.state == .failed)
            #expect(job.exitCode == 3 && job.attempts == 1)
            #expect(harness.pool.attempts(of: id).count == 1)
            #expect(await harness.counts(.cpu).failed == 1)
        }
    }

    @Test func aJobThatFailsEveryAttemptRunsMaxAttemptsTimesThenEndsDead() async throws {
        let clock = TestClock()
        let pool = FakeRunner("pool", onStart: { _ in clock.advance(bySeconds: 1) }, script: { _, _ in .exit(3) })
        try await Harness.with(clock: clock, pool: pool) { harness in
            let id = try await harness.submit(JobSpec(argv: ["false"], maxAttempts: 3, backoffSeconds: 0))
            #expect(try await harness.waitUntilFinished([id]))
            let job = try harness.row(id)
            #expect(job.state == .dead, "retries exhausted")
            #expect(job.attempts == 3)
            #expect(job.exitCode == 3)
            #expect(harness.pool.attempts(of: id).count == 3)
            // Each attempt's outcome is written, in order: two retries, then the end.
            let writes = harness.store.committedWrites.filter { $0.job == id }
            let finishes = writes.compactMap { write -> (JobState, Int?)? in
                guard case .finish(_, let state, let outcome, _) = write else { return nil }
                return (state, outcome.exitCode)
            }
            #expect(finishes.map(\.0) == [.queued, .queued, .dead])
            #expect(finishes.allSatisfy { $0.1 == 3 })
            let kinds = writes.map { write -> String in
                if case .start = write { return "start" }
                return write.isFinish ? "finish" : "other"
            }
            #expect(
                kinds == ["start", "finish", "start", "finish", "start", "finish"], "each start after the last outcome")
            let counts = await harness.counts(.cpu)
            #expect(counts.dead == 1 && counts.queued == 0 && counts.running == 0, "\(counts)")
            #expect(await harness.dispatcher.snapshot().finishedSinceStart == 1, "a retry is not a finish")
        }
    }

    @Test func aRetryThatSucceedsEndsSucceededAndGetsWhatTheLogHasRoomFor() async throws {
        // The first attempt writes 1,000 bytes of output and fails; the second succeeds.
        let pool = FakeRunner(
            "pool",
            onStart: { attempt in
                if !FileManager.default.fileExists(atPath: attempt.outputPath) {
                    _ = FileManager.default.createFile(
                        atPath: attempt.outputPath, contents: Data(repeating: UInt8(ascii: "x"), count: 1000))
                }
            },
            script: { _, before in before == 0 ? .exit(1) : .succeed })
        try await Harness.with(outputLimit: 4096, pool: pool) { harness in
            let id = try await harness.submit(JobSpec(argv: ["flaky"], maxAttempts: 3, backoffSeconds: 0))
            #expect(try await harness.waitUntilFinished([id]))
            let job = try harness.row(id)
            #expect(job.state == .succeeded)
            #expect(job.attempts == 2)
            #expect(job.exitCode == 0 && job.error == nil, "the last attempt's outcome, not the first's")
            let attempts = harness.pool.attempts(of: id)
            #expect(attempts.map(\.outputLimit) == [4096, 3096], "the limit holds for the job's whole log")
            #expect(await harness.counts(.cpu).succeeded == 1)
        }
    }

    @Test func aTimedOutAttemptIsRetriedLikeAFailureNotEndedLikeACancel() async throws {
        try await Harness.with(pool: FakeRunner("pool", always: .timeOut)) { harness in
            let id = try await harness.submit(JobSpec(argv: ["sleep", "300"], timeoutSeconds: 1, maxAttempts: 2, backoffSeconds: 0))
            #expect(try await harness.waitUntilFinished([id]))
            let job = try harness.row(id)
            #expect(job.state == .dead && job.attempts == 2, "\(job.state) after \(job.attempts)")
            #expect(job.error == "timeout after 1.0 seconds")
            #expect(harness.pool.received.map(\.stop) == [.timedOut(.seconds(1)), .timedOut(.seconds(1))])
        }
    }

    /// The verdict rules of DESIGN §2, as plain values.
    @Test func theVerdictOfAnAttempt() {
        let success = RunOutcome(exitCode: 0, wallSeconds: 1)
        let failure = RunOutcome(exitCode: 1, error: "exit 1", wallSeconds: 1)
        func verdict(_ outcome: RunOutcome, _ stop: StopReason?, _ used: Int, of max: Int) -> JobState {
            AttemptVerdict.state(for: outcome, stop: stop, attemptsUsed: used, maxAttempts: max)
        }
        #expect(verdict(success, nil, 1, of: 1) == .succeeded)
        #expect(verdict(failure, nil, 1, of: 1) == .failed, "no retries: failed")
        #expect(verdict(failure, nil, 1, of: 3) == .queued, "attempts left: retried")
        #expect(verdict(failure, nil, 3, of: 3) == .dead, "retries used up: dead")
        #expect(verdict(success, .cancelled, 1, of: 3) == .cancelled, "a cancel wins over the exit status")
        #expect(verdict(failure, .shutdown, 3, of: 3) == .queued, "a shutdown requeues, even the last attempt")
        #expect(verdict(failure, .timedOut(.seconds(1)), 1, of: 2) == .queued, "a timeout is a failure")
        #expect(verdict(failure, .timedOut(.seconds(1)), 2, of: 2) == .dead)
    }

    // MARK: - Cancel

    @Test func aWaitingJobIsCancelledWithoutEverReachingARunner() async throws {
        try await Harness.with(cpuSlots: 1, pool: FakeRunner("pool", always: .block)) { harness in
            let running = try await harness.submit(JobSpec(argv: ["sleep"]))
            let waiting = try await harness.submit(JobSpec(argv: ["never"]))
            try await harness.pool.waitUntilBlocking(running)
            #expect(try await harness.dispatcher.cancel(waiting) == .cancelledWaiting)
            #expect(try await harness.waitUntilFinished([waiting]), "its waiters are answered at once")
            let job = try harness.row(waiting)
            #expect(job.state == .cancelled)
            #expect(job.error == "cancelled before it started")
            #expect(job.attempts == 0)
            // The slot frees; had the cancel left it queued, it would start now.
            harness.pool.release(running)
            #expect(try await harness.waitUntilFinished([running]))
            let after = try await harness.submit(JobSpec(argv: ["after"]))
            try await harness.pool.waitUntilBlocking(after)
            #expect(harness.pool.attempts(of: waiting).isEmpty)
            #expect(try await harness.dispatcher.cancel(waiting) == .notActive)
            let counts = await harness.counts(.cpu)
            #expect(
                counts.cancelled == 1 && counts.succeeded == 1 && counts.running == 1 && counts.queued == 0,
                "\(counts)")
        }
    }

    @Test func aRunningJobIsStoppedAndEndsCancelled() async throws {
        try await Harness.with(pool: FakeRunner("pool", always: .block)) { harness in
            let id = try await harness.submit(JobSpec(argv: ["sleep"], maxAttempts: 3, backoffSeconds: 0))
            try await harness.pool.waitUntilBlocking(id)
            #expect(try await harness.dispatcher.cancel(id) == .stopping)
            #expect(try await harness.waitUntilFinished([id]))
            let job = try harness.row(id)
            #expect(job.state == .cancelled, "a cancel wins over the failed exit, and is not retried")
            #expect(job.signal == 15)
            #expect(harness.pool.received.map(\.stop) == [.cancelled], "the runner saw the stop, once")
            let counts = await harness.counts(.cpu)
            #expect(counts.cancelled == 1 && counts.running == 0, "\(counts)")
        }
    }

    // MARK: - Drain

    @Test func drainGivesRunningJobsTheGraceThenStopsAndRequeuesThem() async throws {
        try await Harness.with(cpuSlots: 2, pool: FakeRunner("pool", always: .block)) { harness in
            let finishes = try await harness.submit(JobSpec(argv: ["quick"]))
            let stubborn = try await harness.submit(JobSpec(argv: ["slow"]))
            let waiting = try await harness.submit(JobSpec(argv: ["queued"]))
            try await harness.pool.waitUntilBlocking(finishes)
            try await harness.pool.waitUntilBlocking(stubborn)
            let dispatcher = harness.dispatcher
            let answer = Locked<Bool?>(nil)
            let grace = Duration.seconds(2)  // long enough for the checks below on a loaded machine
            let began = ContinuousClock.now
            try await withDeadline("the drain ends", within: .seconds(10)) {
                try await withThrowingTaskGroup(of: Void.self) { group in
                    // Whether this Wait reaches the actor before or during the drain, it must be answered.
                    group.addTask {
                        let finished = try await dispatcher.waitUntilFinished([stubborn, waiting])
                        answer.set(finished)
                    }
                    group.addTask { await dispatcher.drain(grace: grace) }
                    try await eventually("the drain begins") { await dispatcher.isShuttingDown ? true : nil }
                    // Within the grace period a job may still finish, and ends as it would have.
                    harness.pool.release(finishes)
                    try await eventually("the quick job is stored succeeded") {
                        harness.store.row(finishes)?.state == .succeeded ? true : nil
                    }
                    #expect(harness.pool.received.first { $0.attempt.job == stubborn }?.stop == nil)
                    try await group.waitForAll()
                }
            }
            #expect(ContinuousClock.now - began >= grace, "the slow job had the whole grace period")
            #expect(harness.pool.received.first { $0.attempt.job == stubborn }?.stop == .shutdown)
            let requeued = try harness.row(stubborn)
            #expect(requeued.state == .queued)
            #expect(requeued.error?.hasSuffix("; requeued for the next start") == true, "\(String(describing: requeued.error))")
            #expect(harness.store.committedWrites.contains { write in
                if case .finish(stubborn, state: .queued, _, _) = write { return true }
                return false
            })
            #expect(try harness.row(waiting).state == .queued, "a waiting job stays queued for the next start")
            #expect(harness.pool.attempts(of: waiting).isEmpty, "nothing starts during a drain")
            #expect(answer.get == false, "clients waiting for unfinished jobs are answered")
            #expect(try await dispatcher.waitUntilFinished([waiting]) == false, "and so is any later Wait")
            let counts = await harness.counts(.cpu)
            #expect(counts.succeeded == 1 && counts.queued == 2 && counts.running == 0, "\(counts)")
        }
    }

    @Test func jobsSubmittedDuringADrainAreStoredButNotStarted() async throws {
        try await Harness.with(pool: FakeRunner("pool", always: .block)) { harness in
            let running = try await harness.submit(JobSpec(argv: ["slow"]))
            try await harness.pool.waitUntilBlocking(running)
            let dispatcher = harness.dispatcher
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { await dispatcher.drain(grace: .seconds(5)) }
                try await eventually("the drain begins") { await dispatcher.isShuttingDown ? true : nil }
                let late = try await harness.submit(JobSpec(argv: ["late"]))
                #expect(try harness.row(late).state == .queued)
                #expect(await dispatcher.isHeld(late) == false)
                harness.pool.release(running)
                try await group.waitForAll()
                #expect(harness.pool.attempts(of: late).isEmpty)
                #expect(await harness.counts(.cpu).queued == 1)
            }
        }
    }

    // MARK: - Waiting for the commit

    @Test func waitersWakeOnlyOnceTheOutcomeHasCommitted() async throws {
        try await Harness.with { harness in
            harness.store.holdCommits { $0.isFinish }
            let id = try await harness.submit(JobSpec(argv: ["/bin/true"]))
            let dispatcher = harness.dispatcher
            let store = harness.store
            let woken = Locked(false)
            let stateWhenWoken = Locked<JobState?>(nil)
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask {
                    _ = try await dispatcher.waitUntilFinished([id])
                    // What a Wait reply would read at this moment.
                    stateWhenWoken.set(store.row(id)?.state)
                    woken.set(true)
                }
                try await eventually("the outcome is queued") {
                    store.waitingWrites.contains { $0.isFinish } ? true : nil
                }
                try await staysFalse("the waiter woke before the commit") { woken.get }
                #expect(store.row(id)?.state == .running, "the row still says running")
                #expect(await dispatcher.isHeld(id), "the job stays held until its outcome commits")
                store.releaseHeldCommits()
                try await eventually("the waiter wakes") { woken.get ? true : nil }
                try await group.waitForAll()
            }
            #expect(stateWhenWoken.get == .succeeded, "a woken waiter reads the final state")
        }
    }

    @Test func anOutcomeWhoseCommitFailsIsWrittenAgainAndThenWakesWaiters() async throws {
        try await Harness.with { harness in
            harness.store.failCommits(1) { $0.isFinish }
            let id = try await harness.submit(JobSpec(argv: ["/bin/true"]))
            #expect(try await harness.waitUntilFinished([id]))
            let job = try harness.row(id)
            #expect(job.state == .succeeded, "the outcome was stored at the second try")
            let failed = harness.store.failedWrites.filter(\.isFinish)
            let committed = harness.store.committedWrites.filter(\.isFinish)
            #expect(failed.count == 1 && committed.count == 1)
            #expect(failed == committed, "the same outcome, written again")
            #expect(await harness.dispatcher.isHeld(id) == false)
            #expect(await harness.dispatcher.snapshot().finishedSinceStart == 1)
        }
    }

    @Test func jobsRequeuedAtStartUpRunFromTheirStoredRows() async throws {
        let store = InMemoryStore()
        let created = Timestamp(secondsSinceEpoch: 1_700_000_000)
        // What a daemon that died left: one job running (its first attempt counted), one queued.
        store.insert(
            Job(id: JobID(1), state: .running, kind: "exec", argv: ["/bin/a"], class: .cpu, classSource: .hint,
                attempts: 1, maxAttempts: 2, ownerUID: 1000, ownerGID: 1000, createdAt: created))
        store.insert(
            Job(id: JobID(2), state: .queued, kind: "exec", argv: ["/bin/b"], class: .io, classSource: .hint,
                ownerUID: 1000, ownerGID: 1000, createdAt: created))
        let startup = try await store.recover(at: created)
        #expect(startup.requeued == [JobID(1)])
        try await Harness.with(store: store, counts: startup.counts) { harness in
            #expect(try await harness.waitUntilFinished([JobID(1), JobID(2)]))
            #expect(harness.pool.attempts.map(\.work) == [.exec(argv: ["/bin/a"])])
            #expect(harness.exec.attempts.map(\.work) == [.exec(argv: ["/bin/b"])])
            let first = try harness.row(JobID(1))
            #expect(first.state == .succeeded && first.attempts == 2, "the interrupted attempt counts")
            #expect(try harness.row(JobID(2)).attempts == 1)
            #expect(await harness.counts(.cpu).succeeded == 1)
            #expect(await harness.counts(.io).succeeded == 1)
        }
    }

    /// Jobs found queued at start-up are ordered by priority, then by due time (`run_at`, else the submit
    /// time), then by id (issue 13): a delayed job that ran out just before the stop does not jump ahead
    /// of the jobs of its priority queued before it.
    @Test func jobsQueuedAtStartUpStartByPriorityThenDueTimeThenID() async throws {
        let store = InMemoryStore()
        func queued(_ id: Int64, createdAt: Double, runAt: Double? = nil, priority: Int = 0) -> Job {
            Job(
                id: JobID(id), state: .queued, kind: "exec", argv: ["/bin/\(id)"], class: .cpu, classSource: .hint,
                priority: priority, runAt: runAt.map(Timestamp.init(secondsSinceEpoch:)), ownerUID: 1000,
                ownerGID: 1000, createdAt: Timestamp(secondsSinceEpoch: createdAt))
        }
        store.insert(queued(1, createdAt: 1_000))
        store.insert(queued(2, createdAt: 900, runAt: 3_000))  // submitted first, but delayed: due last
        store.insert(queued(3, createdAt: 2_000))
        store.insert(queued(4, createdAt: 4_000, priority: 1))
        store.insert(queued(5, createdAt: 1_000))  // due with job 1: the lower id goes first
        let startup = try await store.recover(at: Timestamp(secondsSinceEpoch: 5_000))
        let ids = (Int64(1)...5).map { JobID($0) }
        try await Harness.with(cpuSlots: 1, store: store, counts: startup.counts) { (harness) async throws in
            #expect(try await harness.waitUntilFinished(ids))
            #expect(harness.pool.attempts.map(\.job.rawValue) == [4, 1, 5, 3, 2])
        }
    }

    /// A retry is due when its pause ends: a job of its priority queued before then starts first, though
    /// its id is higher (issue 13: ties by due time, then id).
    @Test func aRetryOutOfItsPauseGoesBehindAJobOfItsPriorityThatWasDueBefore() async throws {
        let clock = TestClock()
        let pool = FakeRunner("pool", script: { attempt, before in
            if attempt.job == JobID(1) { return before == 0 ? .exit(1) : .succeed }
            return attempt.job == JobID(2) ? .block : .succeed
        })
        try await Harness.with(cpuSlots: 1, clock: clock, pool: pool) { harness in
            let flaky = try await harness.submit(
                JobSpec(argv: ["flaky"], maxAttempts: 2, backoff: .fixed, backoffSeconds: 1))
            try await eventually("its first attempt failed and it waits out its pause") {
                try harness.row(flaky).state == .scheduled ? true : nil
            }
            let blocker = try await harness.submit(JobSpec(argv: ["blocker"]))
            try await harness.pool.waitUntilBlocking(blocker)
            let queued = try await harness.submit(JobSpec(argv: ["queued"]))  // due now, a second before the retry
            clock.advance(bySeconds: 2)
            try await eventually("the retry is due and waits for the slot") {
                await harness.counts(.cpu).queued == 2 ? true : nil
            }
            harness.pool.release(blocker)
            #expect(try await harness.waitUntilFinished([flaky, queued]))
            #expect(harness.pool.attempts.map(\.job) == [flaky, blocker, queued, flaky])
            #expect(try harness.row(flaky).state == .succeeded)
        }
    }
}
