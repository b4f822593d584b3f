import JobdProtocol
import JobdScheduler
import Testing

struct SchedulerTests {
    private func job(_ id: Int64, _ jobClass: JobClass = .cpu, priority: Int = 0) -> ReadyJob {
        ReadyJob(id: JobID(id), class: jobClass, priority: priority)
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
