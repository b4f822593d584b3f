import NIOCore

/// Runs the jobs of the tasks that prefer it on one NIO event loop: the loop's own thread reads a
/// connection's bytes, resumes the task that awaits them, and writes the task's reply, with no hand-off
/// to Swift's cooperative pool and back.
///
/// Why: a call on an `NIOAsyncChannel` otherwise crosses threads twice each way (the loop yields a frame,
/// a pool thread takes it; the pool thread writes, the loop sends), and on this 2-core machine those
/// wake-ups were a large part of a sub-millisecond round trip (issue 12).
///
/// **Code that runs with this preference must not block**: it holds up every connection of the loop. It
/// may await anything (an actor, the store): only its own steps run on the loop.
public final class EventLoopTaskExecutor: TaskExecutor {
    public let eventLoop: any EventLoop

    public init(_ eventLoop: any EventLoop) {
        self.eventLoop = eventLoop
    }

    public func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        // From the loop itself, `execute` queues the job for this same turn of the loop: no wake-up.
        eventLoop.execute {
            job.runSynchronously(on: self.asUnownedTaskExecutor())
        }
    }
}
