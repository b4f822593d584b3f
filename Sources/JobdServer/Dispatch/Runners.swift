import JobdProtocol
import JobdRunners

/// The runner of each of DESIGN §4's paths, looked up per attempt. Handed to the dispatcher whole, so
/// a test runs it with fakes and a new path is one more runner here.
struct Runners: Sendable {
    /// A CPU-class job, command or handler: a worker process of the pool.
    var pool: any Runner
    /// An I/O-class command: a child of the daemon, awaited on the reactor thread.
    var exec: any Runner
    /// An I/O-class handler: a task of the daemon.
    var handler: any Runner

    func runner(for plan: JobPlan) -> any Runner {
        switch plan.class {
        case .cpu: pool
        case .io: plan.attempt.isExec ? exec : handler
        }
    }
}
