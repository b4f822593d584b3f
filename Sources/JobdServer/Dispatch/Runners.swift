import JobdHandlers
import JobdProtocol
import JobdRunners

/// The runner of each of DESIGN §4's paths, looked up per attempt. Handed to the dispatcher whole, so
/// a test runs it with fakes and a new path is one more runner here.
struct Runners: Sendable {
    /// A CPU-class job, command or handler: a worker process of the pool.
    var pool: any Runner
    /// An I/O-class command: a child of the daemon, awaited on the reactor thread.
    var exec: any Runner
    /// An I/O-class handler that only awaits (`sleep`, `noop`): a task of the daemon.
    var handler: any Runner
    /// An I/O-class handler that blocks or burns CPU (a `BlockingJobHandler`: `sha256`): a process of its
    /// own, as the job's owner. Nothing a user submits runs on the threads that serve everyone.
    var handlerProcess: any Runner
    /// Which handlers block.
    var registry: HandlerRegistry = .builtIn

    func runner(for plan: JobPlan) -> any Runner {
        switch (plan.class, plan.attempt.work) {
        case (.cpu, _): pool
        case (.io, .exec): exec
        case (.io, .handler(let name, _)): registry.blocks(name) ? handlerProcess : handler
        }
    }
}
