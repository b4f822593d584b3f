import JobdProtocol
@testable import JobdRunners
@testable import JobdServer
import JobdStore
import JobdTestSupport
import Testing

/// Five ways the dispatcher once went wrong around cancel and drain, found by this seam; each test shows
/// the behaviour it has now.
@Suite struct DispatcherEdgeCaseTests {
    /// `cancel` once took a waiting job out of `active` before its write had committed, so a Wait that
    /// arrived meanwhile returned at once, with the job still `queued` (and running after all if the write
    /// failed). A Wait now answers once the cancel is stored.
    /// A pause stored while a claim is on its way: the claim read the controls before the pause, and took
    /// a job of the paused queue ahead of the slots. It was kept and started when the slot freed, after the
    /// operator was told the queue is paused; now it is given back and waits.
    @Test func aJobClaimedAheadByAClaimThatCrossedAPauseIsGivenBack() async throws {
        let pool = FakeRunner("pool", always: .block)
        try await Harness.with(cpuSlots: 1, pool: pool) { harness in
            let busy = try await harness.submit(JobSpec(argv: ["busy"]))
            try await eventually("the slot is taken") { pool.attempts.map(\.job) == [busy] ? true : nil }
            harness.store.holdCommits { $0 == .claim }
            let paused = try await harness.submit(JobSpec(argv: ["later"], queue: "q"))
            try await eventually("a claim is on its way") { harness.store.waitingWrites.contains(.claim) ? true : nil }
            let pause = SchedulingControl(target: .queue("q"), paused: true)
            // Stored behind the claim, as an operator's pause that lands just after it.
            async let saved: Void = harness.store.saveSchedulingControl(pause)
            try await eventually("the pause waits behind the claim") { harness.store.waitingWrites.count >= 2 ? true : nil }
            await harness.dispatcher.apply([pause])
            harness.store.releaseHeldCommits()
            try await saved
            pool.release(busy)
            #expect(try await harness.waitUntilFinished([busy]))
            try await staysFalse("the paused queue's job started", for: .milliseconds(300)) {
                pool.attempts.contains { $0.job == paused }
            }
            #expect(try harness.row(paused).state == .queued)
        }
    }

    @Test func aWaitDuringACancelsCommitReturnsOnlyOnceTheCancelIsStored() async throws {
        try await Harness.with(cpuSlots: 1, pool: FakeRunner("pool", always: .block)) { harness in
            let running = try await harness.submit(JobSpec(argv: ["slow"]))
            let waiting = try await harness.submit(JobSpec(argv: ["queued"]))
            try await harness.pool.waitUntilBlocking(running)
            harness.store.holdCommits { $0 == .cancelWaiting(waiting) }
            let dispatcher = harness.dispatcher
            let store = harness.store
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { _ = try await dispatcher.cancel(waiting) }
                try await eventually("the cancel is queued") {
                    store.waitingWrites.contains(.cancelWaiting(waiting)) ? true : nil
                }
                let answered = Locked<Bool?>(nil)
                group.addTask { answered.set(try await dispatcher.waitUntilFinished([waiting])) }
                try await staysFalse("Wait answered while the cancel was not stored", for: .milliseconds(300)) {
                    answered.get != nil
                }
                store.releaseHeldCommits()
                try await group.waitForAll()
                #expect(answered.get == true)
            }
            #expect(try harness.row(waiting).state == .cancelled)
        }
    }

    /// A drain stops starting jobs; a cancel whose write fails during it once put the job back with
    /// `enqueue`, which started it in a free slot. Now it stays stored as waiting, for the next start.
    @Test func aCancelWhoseWriteFailsDuringADrainDoesNotStartTheJob() async throws {
        try await Harness.with(
            cpuSlots: 1, pool: FakeRunner("pool", always: .block), exec: FakeRunner("exec", always: .block)
        ) { harness in
            let running = try await harness.submit(JobSpec(argv: ["slow"]))
            let waiting = try await harness.submit(JobSpec(argv: ["queued"]))
            // Keeps the drain in its grace period after the CPU job has ended.
            let io = try await harness.submit(JobSpec(argv: ["io"], class: .io))
            try await harness.pool.waitUntilBlocking(running)
            try await harness.exec.waitUntilBlocking(io)
            let dispatcher = harness.dispatcher
            let store = harness.store
            // The cancel's write is slow, then fails (a full disk).
            store.holdCommits { $0 == .cancelWaiting(waiting) }
            store.failCommits(1) { $0 == .cancelWaiting(waiting) }
            try await withThrowingTaskGroup(of: Void.self) { group in
                // A long grace, so a loaded machine cannot end it before the cancel fails; the jobs are
                // released at the end instead.
                group.addTask { await dispatcher.drain(grace: .seconds(20)) }
                try await eventually("the drain begins") { await dispatcher.isShuttingDown ? true : nil }
                group.addTask {
                    await #expect(throws: StoreError.self) { _ = try await dispatcher.cancel(waiting) }
                }
                try await eventually("the cancel is queued") {
                    store.waitingWrites.contains(.cancelWaiting(waiting)) ? true : nil
                }
                // The running job ends within the grace: its slot is free, and nothing may take it now.
                harness.pool.release(running)
                try await eventually("the first job ended") { store.waitingWrites.contains { $0.isFinish } ? true : nil }
                store.releaseHeldCommits()
                try await eventually("the cancel failed") { store.failedWrites.isEmpty ? nil : true }
                try await staysFalse("the job started during the drain", for: .milliseconds(300)) {
                    !harness.pool.attempts(of: waiting).isEmpty
                }

                harness.pool.release(waiting)
                harness.exec.release(io)
                try await group.waitForAll()
            }
        }
    }

    /// While draining, the dispatcher once dropped the scheduler's start actions after the scheduler had
    /// counted those jobs as running: a cancel of such a waiting job answered `stopping` for a job that
    /// never ran. Now the scheduler is frozen during a drain and a job is running only with a run control.
    @Test func aWaitingJobCanBeCancelledDuringADrain() async throws {
        try await Harness.with(cpuSlots: 1, pool: FakeRunner("pool", always: .block)) { harness in
            let running = try await harness.submit(JobSpec(argv: ["slow"]))
            let waiting = try await harness.submit(JobSpec(argv: ["queued"]))
            try await harness.pool.waitUntilBlocking(running)
            let dispatcher = harness.dispatcher
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { await dispatcher.drain(grace: .seconds(2)) }
                try await eventually("the drain begins") { await dispatcher.isShuttingDown ? true : nil }
                harness.pool.release(running)
                try await eventually("the first job is stored") {
                    harness.store.row(running)?.state == .succeeded ? true : nil
                }
                let result = try await dispatcher.cancel(waiting)
                #expect(result == .cancelledWaiting)
                #expect(harness.store.row(waiting)?.state == .cancelled)

                #expect(harness.pool.attempts(of: waiting).isEmpty)
                try await group.waitForAll()
            }
        }
    }

    /// A retry whose outcome's commit fails keeps its row `running` until the outcome is written again.
    /// A cancel meanwhile finds no waiting row; the dispatcher once ignored that and counted the job
    /// cancelled over a `running` row (which a restart would run again). Now the cancel is refused,
    /// saying to try again.
    @Test func aCancelThatTheStoreRefusesIsNotReportedAsDone() async throws {
        let pool = FakeRunner("pool", script: { attempt, _ in attempt.job == JobID(1) ? .exit(1) : .block })
        try await Harness.with(cpuSlots: 1, pool: pool) { harness in
            // Written again after 0.1, 0.2, 0.4 and 0.8 s: long enough for the cancel below.
            harness.store.failCommits(4) { $0.isFinish && $0.job == JobID(1) }
            let retrying = try await harness.submit(JobSpec(argv: ["flaky"], maxAttempts: 2, backoffSeconds: 0))
            try await eventually("its first outcome's commit failed") {
                harness.store.failedWrites.contains { $0.isFinish && $0.job == retrying } ? true : nil
            }
            #expect(try harness.row(retrying).state == .running, "its retry outcome is not stored")
            // The cancel is refused, saying why, and nothing changes: not "cancelled" over a `running` row.
            await #expect(throws: JobdError.self) { _ = try await harness.dispatcher.cancel(retrying) }
            #expect(try harness.row(retrying).state == .running)
            #expect(await harness.dispatcher.isHeld(retrying), "its outcome is still on its way")
        }
    }

    /// A Wait whose client went away (its task cancelled) once kept its waiter, and every id's entry,
    /// until the jobs ended (issue 18): 50,000 ids per Wait held memory long after the clients closed.
    @Test func aCancelledWaitLeavesNoWaiterBehind() async throws {
        try await Harness.with(pool: FakeRunner("pool", always: .block)) { harness in
            let id = try await harness.submit(JobSpec(argv: ["long"]))
            try await harness.pool.waitUntilBlocking(id)
            let dispatcher = harness.dispatcher
            let wait = Task { try await dispatcher.waitUntilFinished([id]) }
            try await eventually("the client waits") { await dispatcher.waitingClients == 1 ? true : nil }
            wait.cancel()
            try await eventually("its waiter is gone at once") { await dispatcher.waitingClients == 0 ? true : nil }
            await #expect(throws: CancellationError.self) { try await wait.value }
            harness.pool.release(id)
            #expect(try await dispatcher.waitUntilFinished([id]), "another client's Wait still works")
        }
    }

    /// The drain once answered every waiter `ShuttingDown` as soon as no attempt ran, before an attempt
    /// that ended within the grace had committed its outcome. It now waits for those outcomes too.
    @Test func aJobThatFinishesWithinTheGraceIsReportedFinishedToItsWaiters() async throws {
        try await Harness.with(pool: FakeRunner("pool", always: .block)) { harness in
            let id = try await harness.submit(JobSpec(argv: ["quick"]))
            try await harness.pool.waitUntilBlocking(id)
            harness.store.holdCommits { $0.isFinish }
            let dispatcher = harness.dispatcher
            let answer = Locked<Bool?>(nil)
            let drained = Locked(false)
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { answer.set(try await dispatcher.waitUntilFinished([id])) }
                group.addTask {
                    await dispatcher.drain(grace: .seconds(5))
                    drained.set(true)
                }
                try await eventually("the drain begins") { await dispatcher.isShuttingDown ? true : nil }
                harness.pool.release(id)
                try await eventually("the outcome is queued") {
                    harness.store.waitingWrites.contains { $0.isFinish } ? true : nil
                }
                // The disk answers a moment later, as the store's writer would once the drain is over (a
                // dispatcher that waits for the commit first is let through after 2 s).
                _ = try? await eventually("the drain ends", within: .seconds(2)) { drained.get ? true : nil }
                harness.store.releaseHeldCommits()
                try await group.waitForAll()
            }
            #expect(try harness.row(id).state == .succeeded)
            #expect(answer.get == true, "Wait said the daemon stopped first, yet the job succeeded")

        }
    }

    /// A job can name a dependency the dispatcher has not been told of (its submit committed first, but
    /// its jobs reach the dispatcher second). It was taken for a failure and the waiting job cancelled;
    /// since the claims (issue 19) the store decides: the dependency is claimed and run, then the dependent.
    @Test func aDependencyTheDispatcherWasNotToldOfIsWaitedFor() async throws {
        try await Harness.with { harness in
            // Stored, but never handed to the dispatcher: the submit that stored it is still on its way.
            let early = try await harness.store.submit([
                NewJob(
                    spec: JobSpec(argv: ["first"]), class: .cpu, classSource: .default, classReason: nil,
                    ownerUID: Harness.owner, ownerGID: Harness.owner, createdAt: harness.clock.now())
            ])
            let first = early.ids[0]
            let second = try await harness.submit(JobSpec(argv: ["second"], after: [first]))
            #expect(try await harness.waitUntilFinished([first, second]))
            #expect(try harness.row(first).state == .succeeded && harness.row(second).state == .succeeded)
            #expect(harness.pool.attempts.map(\.job) == [first, second], "the dependency ran first")
        }
    }

    /// A delayed job whose cancel the store refused went back with a due time of 0 and started at once.
    /// It keeps its own time now.
    @Test func aDelayedJobWhoseCancelFailsKeepsItsTime() async throws {
        try await Harness.with { harness in
            let id = try await harness.submit(JobSpec(argv: ["later"], delaySeconds: 300))
            harness.store.failCommits(1) { $0 == .cancelWaiting(id) }
            await #expect(throws: StoreError.self) { _ = try await harness.dispatcher.cancel(id) }
            try await staysFalse("the delayed job started", for: .milliseconds(300)) {
                !harness.pool.attempts(of: id).isEmpty
            }
            #expect(try harness.row(id).state == .scheduled, "it still waits for its time")
        }
    }
}
