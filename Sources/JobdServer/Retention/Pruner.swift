import JobdProtocol
import JobdRunners
import JobdStore
import Logging

/// Deletes finished jobs and their log files: after the retention period, in the background, and on
/// demand (`io.jobd.Prune`). Without it the database and the logs directory grow without bound.
///
/// **Only finished jobs (succeeded, failed, dead, cancelled) are ever pruned**, and the kept counts of
/// `status` go down by what was deleted. Deletes go through the store's group committer a bounded batch
/// at a time, so submits queued meanwhile commit between batches instead of waiting for the whole prune.
struct Pruner: Sendable {
    let store: any JobStore
    let dispatcher: Dispatcher
    let logsDirectory: String
    let logger: Logger

    /// Jobs deleted per transaction: one batch holds the writer for milliseconds, not seconds.
    static let batchSize = 1_000

    /// The background prune runs every tenth of the retention period, at most an hour apart (a job
    /// outlives its retention by at most that much), and at least 100 ms apart (a tiny retention in a
    /// test must not spin).
    static func interval(retentionSeconds: Double) -> Duration {
        .seconds(checked: min(max(retentionSeconds / 10, 0.1), longestInterval.inSeconds))
    }

    static let longestInterval: Duration = .seconds(3600)

    /// Deletes finished jobs in `states` that finished at least `age` seconds ago.
    /// - Parameters:
    ///   - ownerUID: only this user's jobs; nil: everyone's (root, or the retention task).
    /// - Returns: how many jobs were deleted.
    /// - Throws: the store's error; batches deleted before it stay deleted (and are counted out).
    func prune(olderThan age: Double, states: Set<JobState>, ownerUID: UInt32?) async throws -> Int {
        let cutoff = Timestamp(secondsSinceEpoch: WallClock.now().secondsSinceEpoch - age)
        var total = 0
        while true {
            let batch = try await store.prune(
                finishedBy: cutoff, states: states, ownerUID: ownerUID, limit: Self.batchSize)
            await dispatcher.pruned(batch)
            for job in batch {
                OutputLog.remove(path: OutputLog.stdinPath(of: job.id, in: logsDirectory))  // a hook's, if any
                if let failure = OutputLog.remove(path: OutputIndex.path(of: job.id, in: logsDirectory)) {
                    logger.warning("job \(job.id) was pruned but its log's index could not be removed: \(failure)")
                }
                if let failure = OutputLog.remove(path: OutputLog.path(of: job.id, in: logsDirectory)) {
                    logger.warning("job \(job.id) was pruned but its log could not be removed: \(failure)")
                }
            }
            total += batch.count
            if batch.count < Self.batchSize { return total }
            // Let other work of the pool (replies, dispatch) in between batches of a large prune.
            await Task.yield()
        }
    }

    /// Prunes every finished job older than the retention period, now and then every
    /// ``interval(retentionSeconds:)``, until cancelled. The period is read at each round; `reloaded`
    /// starts the next round at once, so a reload applies now. A retention of 0 keeps jobs forever.
    func run(retention: @escaping @Sendable () -> Double, reloaded: Doorbell) async {
        while !Task.isCancelled {
            let retentionSeconds = retention()
            let keepsForever = !(retentionSeconds > 0 && retentionSeconds.isFinite)
            let interval = keepsForever ? Self.longestInterval : Self.interval(retentionSeconds: retentionSeconds)
            do {
                if !keepsForever {
                    let pruned = try await prune(
                        olderThan: retentionSeconds, states: JobState.finishedStates, ownerUID: nil)
                    if pruned > 0 { logger.info("pruned \(pruned) finished jobs older than the retention period") }
                }
            } catch StoreError.closed {
                return  // the daemon is stopping
            } catch {
                // Tried again at the next interval; the jobs stay until then.
                logger.error("pruning finished jobs failed: \(error); trying again in \(interval)")
            }
            await reloaded.wait(upTo: interval)
        }
    }
}
