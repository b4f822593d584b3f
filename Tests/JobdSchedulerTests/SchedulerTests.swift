import JobdProtocol
@testable import JobdScheduler
import Testing

struct SchedulerTests {
    private func job(_ id: Int64, _ jobClass: JobClass = .cpu, priority: Int = 0, due: UInt32 = 0) -> ReadyJob {
        ReadyJob(id: JobID(id), class: jobClass, priority: priority, due: DueTime(secondsSinceEpoch: due))
    }

    /// The ids started one after another as each running job ends, from `first` on, one slot.
    private func startOrder(scheduler: inout Scheduler, after first: Int64) -> [Int64] {
        var order: [Int64] = []
        var running = JobID(first)
        while case .start(let next, _)? = scheduler.jobFinished(running).first {
            order.append(next.rawValue)
            running = next
        }
        return order
    }

    /// Cancelled jobs leave their heap entries behind (lazy deletion); once they outnumber the waiting
    /// ones the heaps are rebuilt, so a mass cancel frees its memory, and the order of the rest holds.
    @Test func heapsAreCompactedWhenCancelledEntriesOutnumberWaitingOnes() {
        var scheduler = Scheduler(limits: Limits(cpuSlots: 1, ioSlots: 1))
        _ = scheduler.enqueue(job(1))  // runs; the rest wait behind it
        for id in 2...10_001 { _ = scheduler.enqueue(job(Int64(id), priority: id % 7)) }
        #expect(scheduler.entryCount == 10_000)
        for id in 2...9_001 { _ = scheduler.remove(JobID(Int64(id))) }
        #expect(scheduler.entryCount <= 2 * 1_000 + 1_024, "compacted: \(scheduler.entryCount) entries for 1,000 jobs")
        let order = startOrder(scheduler: &scheduler, after: 1)
        let expected = (9_002...10_001).sorted { ($0 % 7, -$0) > ($1 % 7, -$1) }.map(Int64.init)
        #expect(order == expected, "priority, then id, as before the compaction")
        #expect(scheduler.entryCount == 0)
    }

    /// A job cancelled while it waited and queued again (a retry, due later) takes its new place: its
    /// old heap entry, left by the cancel, does not win with the older due time.
    @Test func aJobCancelledAndQueuedAgainTakesItsNewPlace() {
        var scheduler = Scheduler(limits: Limits(cpuSlots: 1, ioSlots: 1))
        _ = scheduler.enqueue(job(1))  // runs
        _ = scheduler.enqueue(job(2, due: 10))
        _ = scheduler.enqueue(job(3, due: 20))
        let removed = scheduler.remove(JobID(2))
        #expect(removed)
        _ = scheduler.enqueue(job(2, due: 30))  // retried: due from the retry
        #expect(scheduler.waitingCount(.cpu) == 2, "the old entry is not counted")
        #expect(startOrder(scheduler: &scheduler, after: 1) == [3, 2])
    }

    @Test func aSecondCPUJobWaitsForAFreeSlot() {
        var scheduler = Scheduler(limits: Limits(cpuSlots: 1, ioSlots: 10))
        #expect(scheduler.enqueue(job(1)) == [.start(JobID(1), .cpu)])
        #expect(scheduler.enqueue(job(2)) == [])
        #expect(scheduler.waitingCount(.cpu) == 1)
        #expect(scheduler.jobFinished(JobID(1)) == [.start(JobID(2), .cpu)])
    }

    @Test func prefetchStartsOneMoreCPUJobPerSlotAndNoMore() {
        var scheduler = Scheduler(limits: Limits(cpuSlots: 2, ioSlots: 10, cpuPrefetch: 2))
        #expect(scheduler.enqueue(contentsOf: (1...5).map { job($0) }).count == 4)
        #expect(scheduler.runningCount(.cpu) == 4 && scheduler.waitingCount(.cpu) == 1)
        #expect(scheduler.jobFinished(JobID(1)) == [.start(JobID(5), .cpu)])
        #expect(Limits(cpuSlots: 2, ioSlots: 10, cpuPrefetch: 2)[.cpu] == 4)
    }

    @Test func aFullCPUClassNeverDelaysIOJobs() {
        var scheduler = Scheduler(limits: Limits(cpuSlots: 1, ioSlots: 2))
        _ = scheduler.enqueue(job(1, .cpu))
        _ = scheduler.enqueue(job(2, .cpu))
        #expect(scheduler.enqueue(job(3, .io)) == [.start(JobID(3), .io)])
        #expect(scheduler.enqueue(job(4, .io)) == [.start(JobID(4), .io)])
        #expect(scheduler.enqueue(job(5, .io)) == [])
        #expect(scheduler.jobFinished(JobID(3)) == [.start(JobID(5), .io)], "an I/O slot goes to an I/O job")
        #expect(scheduler.runningCount(.cpu) == 1)
    }

    @Test func higherPriorityFirstThenOldest() {
        var scheduler = Scheduler(limits: Limits(cpuSlots: 1, ioSlots: 1))
        _ = scheduler.enqueue(job(1))
        for (id, priority) in [(2, 0), (3, 5), (4, 5), (5, -1)] { _ = scheduler.enqueue(job(Int64(id), priority: priority)) }
        var order: [Int64] = []
        var running = JobID(1)
        while case .start(let next, _)? = scheduler.jobFinished(running).first {
            order.append(next.rawValue)
            running = next
        }
        #expect(order == [3, 4, 2, 5])
    }

    /// Ties of priority go to the job that fell due first, then to the lower id (issue 13): a delayed job
    /// or a retry out of its pause does not jump ahead of jobs of its priority that were due before it.
    @Test func samePriorityTiesGoToTheEarlierDueTimeThenTheLowerID() {
        var scheduler = Scheduler(limits: Limits(cpuSlots: 1, ioSlots: 1))
        _ = scheduler.enqueue(job(1))
        // Job 2: lowest id, but due last (a delay that just ran out); 3 and 4 due together.
        for (id, due) in [(2, 1_100), (3, 1_010), (4, 1_010), (5, 1_050)] {
            _ = scheduler.enqueue(job(Int64(id), due: UInt32(due)))
        }
        #expect(startOrder(scheduler: &scheduler, after: 1) == [3, 4, 5, 2])
    }

    @Test func priorityStillBeatsDueTime() {
        var scheduler = Scheduler(limits: Limits(cpuSlots: 1, ioSlots: 1))
        _ = scheduler.enqueue(job(1))
        _ = scheduler.enqueue(job(2, due: 10))
        _ = scheduler.enqueue(job(3, priority: 5, due: 5_000))
        _ = scheduler.enqueue(job(4, priority: -1, due: 0))
        _ = scheduler.enqueue(job(5, priority: 5, due: 4_000))
        #expect(startOrder(scheduler: &scheduler, after: 1) == [5, 3, 2, 4])
    }

    /// Jobs queued together at start-up are ordered the same way as jobs queued one by one.
    @Test func jobsQueuedTogetherAreOrderedByDueTimeToo() {
        var scheduler = Scheduler(limits: Limits(cpuSlots: 1, ioSlots: 1))
        let actions = scheduler.enqueue(contentsOf: [job(1, due: 300), job(2, due: 100), job(3, due: 200)])
        #expect(actions == [.start(JobID(2), .cpu)])
        #expect(startOrder(scheduler: &scheduler, after: 2) == [3, 1])
    }

    /// A due time out of 32 bits, or not a number, is clamped rather than trapped on.
    @Test func aDueTimeIsTheWholeSecondClamped() {
        #expect(DueTime(secondsSinceEpoch: 1_800_000_000.9).secondsSinceEpoch == 1_800_000_000)
        #expect(DueTime(Timestamp(secondsSinceEpoch: 12.5)) == DueTime(secondsSinceEpoch: UInt32(12)))
        #expect(DueTime(secondsSinceEpoch: -5.0) == .epoch)
        #expect(DueTime(secondsSinceEpoch: Double.nan) == .epoch)
        #expect(DueTime(secondsSinceEpoch: 1e300).secondsSinceEpoch == .max)
        #expect(DueTime(secondsSinceEpoch: Double.infinity).secondsSinceEpoch == .max)
        #expect(ReadyJob(id: JobID(1), class: .cpu, priority: .max).priority == .max, "clamped to 32 bits")
        #expect(ReadyJob(id: JobID(1), class: .cpu, priority: -1_000_000).priority == -1_000_000)
    }

    /// A million queued jobs hold a million entries (issue 9): the due time must not make them bigger.
    /// They were 32 bytes (id, class, a 64-bit priority, queue) before due times; now 24.
    @Test func aReadyEntryStaysSmall() {
        #expect(MemoryLayout<ReadyEntry>.stride == 24, "\(MemoryLayout<ReadyEntry>.stride)")
    }

    @Test func aRemovedJobIsNeverStarted() {
        var scheduler = Scheduler(limits: Limits(cpuSlots: 1, ioSlots: 1))
        _ = scheduler.enqueue(job(1))
        _ = scheduler.enqueue(job(2))
        _ = scheduler.enqueue(job(3))
        let first = scheduler.remove(JobID(2))
        let second = scheduler.remove(JobID(2))
        let running = scheduler.remove(JobID(1))
        #expect(first)
        #expect(!second, "removing twice says so")
        #expect(!running, "a running job is not removed")
        #expect(scheduler.waitingCount(.cpu) == 1)
        #expect(scheduler.jobFinished(JobID(1)) == [.start(JobID(3), .cpu)])
    }

    @Test func raisingALimitStartsWaitingJobsAtOnce() {
        var scheduler = Scheduler(limits: Limits(cpuSlots: 1, ioSlots: 1))
        for id in 1...3 { _ = scheduler.enqueue(job(Int64(id))) }
        #expect(scheduler.setLimits(Limits(cpuSlots: 3, ioSlots: 1)) == [.start(JobID(2), .cpu), .start(JobID(3), .cpu)])
    }

    @Test func theHintWinsThenTheHandlerThenTheDefault() {
        let classifier = Classifier(defaultClass: .cpu)
        let hinted = classifier.classify(JobSpec(argv: ["curl"], class: .io), declaredClass: nil)
        #expect(hinted.class == .io && hinted.source == .hint)
        let hintOverHandler = classifier.classify(JobSpec(kind: "sha256", class: .io), declaredClass: .cpu)
        #expect(hintOverHandler.class == .io && hintOverHandler.source == .hint)
        let declared = classifier.classify(JobSpec(kind: "sleep"), declaredClass: .io)
        #expect(declared.class == .io && declared.source == .kind)
        #expect(declared.reason == "the sleep handler declares io")
        let plain = classifier.classify(JobSpec(argv: ["curl"]), declaredClass: nil)
        #expect(plain.class == .cpu && plain.source == .default)
        #expect(Classifier(defaultClass: .io).classify(JobSpec(argv: ["x"]), declaredClass: nil).class == .io)
    }
}

@Test func jobsQueuedTogetherAtStartUpStartByPriorityNotArrival() {
    var scheduler = Scheduler(limits: Limits(cpuSlots: 1, ioSlots: 1))
    let actions = scheduler.enqueue(contentsOf: [
        ReadyJob(id: JobID(1), class: .cpu), ReadyJob(id: JobID(2), class: .cpu, priority: 10),
        ReadyJob(id: JobID(3), class: .io),
    ])
    #expect(actions == [.start(JobID(2), .cpu), .start(JobID(3), .io)])
    #expect(scheduler.jobFinished(JobID(2)) == [.start(JobID(1), .cpu)])
}
