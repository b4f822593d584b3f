import JobdProtocol
import JobdScheduler
import Testing

/// Queue limits and pauses in the scheduler (issue 13).
struct QueueSchedulingTests {
    private let media = QueueID(rawValue: 1)
    private let mail = QueueID(rawValue: 2)

    private func job(_ id: Int64, _ jobClass: JobClass = .io, queue: QueueID = .default, priority: Int = 0) -> ReadyJob {
        ReadyJob(id: JobID(id), class: jobClass, priority: priority, queue: queue)
    }

    private func started(_ actions: [SchedulerAction]) -> [Int64] {
        actions.map { if case .start(let id, _) = $0 { id.rawValue } else { -1 } }
    }

    @Test func aQueueLimitHoldsAcrossClassesWhileOtherQueuesGoOn() {
        var scheduler = Scheduler(limits: Limits(cpuSlots: 4, ioSlots: 4))
        _ = scheduler.setLimit(1, of: media)
        #expect(started(scheduler.enqueue(job(1, .io, queue: media))) == [1])
        #expect(started(scheduler.enqueue(job(2, .cpu, queue: media))) == [], "media runs one job, whatever its class")
        #expect(started(scheduler.enqueue(job(3, .io, queue: mail))) == [3], "another queue is not held up")
        #expect(started(scheduler.enqueue(job(4, .io))) == [4])
        #expect(started(scheduler.jobFinished(JobID(1))) == [2], "media's slot goes to its next job, a CPU one")
        #expect(scheduler.runningCount(of: media) == 1)
    }

    @Test func priorityOrdersAcrossQueuesOfAClass() {
        var scheduler = Scheduler(limits: Limits(cpuSlots: 1, ioSlots: 1))
        _ = scheduler.enqueue(job(1))
        _ = scheduler.enqueue(job(2, queue: media, priority: 1))
        _ = scheduler.enqueue(job(3, queue: mail, priority: 5))
        _ = scheduler.enqueue(job(4, priority: 5))
        var order: [Int64] = []
        var running = JobID(1)
        while case .start(let next, _)? = scheduler.jobFinished(running).first {
            order.append(next.rawValue)
            running = next
        }
        #expect(order == [3, 4, 2], "priority first, then the oldest, whichever queue")
    }

    /// Across queues too, a tie of priority goes to the job that fell due first, whatever its id.
    @Test func dueTimeOrdersAcrossQueuesOfAClass() {
        var scheduler = Scheduler(limits: Limits(cpuSlots: 1, ioSlots: 1))
        _ = scheduler.enqueue(job(1))
        func due(_ seconds: UInt32) -> DueTime { DueTime(secondsSinceEpoch: seconds) }
        _ = scheduler.enqueue(ReadyJob(id: JobID(2), class: .io, due: due(500)))
        _ = scheduler.enqueue(ReadyJob(id: JobID(3), class: .io, queue: media, due: due(100)))
        _ = scheduler.enqueue(ReadyJob(id: JobID(4), class: .io, queue: mail, due: due(300)))
        #expect(started(scheduler.jobFinished(JobID(1))) == [3])
        #expect(started(scheduler.jobFinished(JobID(3))) == [4])
        #expect(started(scheduler.jobFinished(JobID(4))) == [2])
    }

    @Test func pausesStopStartingAndResumingStartsAtOnce() {
        var scheduler = Scheduler(limits: Limits(cpuSlots: 2, ioSlots: 2))
        _ = scheduler.setPaused(.queue(media), true)
        #expect(started(scheduler.enqueue(job(1, queue: media))) == [])
        #expect(started(scheduler.enqueue(job(2))) == [2], "only media is paused")
        _ = scheduler.setPaused(.jobClass(.cpu), true)
        #expect(started(scheduler.enqueue(job(3, .cpu))) == [])
        _ = scheduler.setPaused(.all, true)
        #expect(started(scheduler.enqueue(job(4))) == [])
        #expect(started(scheduler.setPaused(.all, false)) == [4], "media and cpu are still paused")
        #expect(started(scheduler.setPaused(.queue(media), false)) == [], "io's two slots are full")
        #expect(started(scheduler.jobFinished(JobID(2))) == [1])
        #expect(started(scheduler.setPaused(.jobClass(.cpu), false)) == [3])
    }

    @Test func raisingAQueueLimitStartsItsWaitingJobs() {
        var scheduler = Scheduler(limits: Limits(cpuSlots: 4, ioSlots: 4))
        _ = scheduler.setLimit(0, of: media)
        for id in 1...3 { _ = scheduler.enqueue(job(Int64(id), queue: media)) }
        #expect(scheduler.runningCount(of: media) == 0)
        #expect(started(scheduler.setLimit(2, of: media)) == [1, 2])
        #expect(started(scheduler.setLimit(nil, of: media)) == [3])
    }

    @Test func queueNamesAreNumberedWhileHeldAndBounded() {
        var names = QueueNames()
        let first = names.hold("default")
        #expect(first == .default)
        let media = names.hold("media")
        let again = names.hold("media")
        #expect(media == again && media != .default)
        #expect(names.name(of: media ?? .default) == "media")
        for index in 0..<(QueueNames.capacity - 2) { _ = names.hold("q\(index)") }
        let tooMany = names.hold("one-too-many")
        #expect(tooMany == nil)
        let known = names.hold("media")
        #expect(known == media, "known names still resolve")
    }

    /// A name nobody holds gives its number back: a thousand queues invented by one user's finished jobs
    /// do not keep new names out for the daemon's lifetime.
    @Test func aNameNobodyHoldsGivesItsNumberBack() {
        var names = QueueNames()
        var held: [QueueID] = []
        for index in 0..<(QueueNames.capacity - 1) { held.append(names.hold("q\(index)") ?? .default) }
        let full = names.hold("new")
        #expect(full == nil)
        let freed = names.release(held[0])
        #expect(freed, "its only hold: the number is given back")
        #expect(names.existingID(for: "q0") == nil && names.count == QueueNames.capacity - 1)
        let new = names.hold("new")
        #expect(new == held[0] && names.name(of: held[0]) == "new", "the number is reused for the new name")
        _ = names.hold("q1")
        let stillHeld = names.release(held[1])
        #expect(!stillHeld && names.existingID(for: "q1") == held[1], "q1 had two holds: one is left")
        let defaultFreed = names.release(.default)
        #expect(!defaultFreed && names.existingID(for: "default") == .default, "default stays")
    }

    /// A forgotten queue's leftovers (a cancelled job's entry, a limit) do not reach the next name given
    /// its number.
    @Test func aForgottenQueueStartsClean() {
        var scheduler = Scheduler(limits: Limits(cpuSlots: 1, ioSlots: 4))
        let old = QueueID(rawValue: 5)
        _ = scheduler.setLimit(0, of: old)
        _ = scheduler.enqueue(job(1, queue: old))
        let removed = scheduler.remove(JobID(1))
        #expect(removed)
        scheduler.forget(old)
        #expect(scheduler.queueLimitsSet[old] == nil)
        let actions = scheduler.enqueue(job(2, queue: old))
        #expect(started(actions) == [2], "no limit left over from the old name")
    }
}
