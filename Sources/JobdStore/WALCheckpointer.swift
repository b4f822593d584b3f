import GRDB
import Logging

/// Copies the write-ahead log back into the database file from a connection of its own, a quarter second
/// after commits (at most every quarter second under load, never while jobd is idle), so that no commit
/// pays for it.
///
/// SQLite's automatic checkpoint runs inside the commit that crosses its threshold (1,000 pages): that
/// commit then copies and fsyncs megabytes, and the submit or outcome behind it waits (the p99 of a
/// stream of small jobs, issue 12). A passive checkpoint here never blocks the writer: it copies what
/// no reader still needs and lets the writer go on appending; when jobd is idle a moment, the log is then
/// all copied and the writer starts it over.
///
/// Under a load that never pauses, passive checkpoints never leave the log all copied, so it would grow:
/// past ``truncateAfterFrames`` this one truncates it (waiting up to ``busyTimeout`` for the writer and
/// holding new commits while it copies the little that is left). The writer keeps an automatic
/// checkpoint at a higher threshold still (``fallbackPages``), should this connection fall behind, and
/// the log file is cut back to ``journalSizeLimit`` when it starts over.
final class WALCheckpointer: Sendable {
    /// The writer's own automatic checkpoint threshold, in pages (16 MiB of 4 KiB pages). Measured: 8
    /// clients submitting without a pause (70,000 jobs/s) keep the writer too busy for a truncating
    /// checkpoint to get in, and the log then stops at this threshold.
    static let fallbackPages = 4_096
    /// The log length past which a checkpoint truncates it (8 MiB of 4 KiB pages).
    static let truncateAfterFrames = 2_048
    /// What the log file is cut back to when the writer starts it over, in bytes.
    static let journalSizeLimit = 8 << 20
    static let interval = Duration.milliseconds(250)
    static let busyTimeout = 0.2

    private let connection: DatabaseQueue
    private let logger: Logger
    /// One element while commits wait for a checkpoint: however many commits, one checkpoint.
    private let commits: AsyncStream<Void>
    private let commitsContinuation: AsyncStream<Void>.Continuation

    /// Opens a second connection to the database at `path`; nil if it cannot be opened (the store then
    /// sets the writer's automatic checkpoint back to SQLite's default).
    init?(path: String, logger: Logger) {
        var configuration = Configuration()
        configuration.label = "jobd.checkpoint"
        // Only a truncating checkpoint waits for the writer, and not long; a passive one never waits.
        configuration.busyMode = .timeout(Self.busyTimeout)
        do {
            connection = try DatabaseQueue(path: path, configuration: configuration)
        } catch {
            logger.warning("the database's log is checkpointed by its commits: a second connection failed: \(error)")
            return nil
        }
        self.logger = logger
        (commits, commitsContinuation) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
    }

    /// The writer committed: a checkpoint follows within ``interval``. Cheap (the group committer calls it
    /// after each group).
    func committed() {
        commitsContinuation.yield()
    }

    /// Checkpoints ``interval`` after commits until the task is cancelled; with no commit it sleeps (an
    /// idle jobd used to wake four times a second for nothing, found reading the core for issue 19).
    func run() async {
        for await _ in commits {
            do {
                try await Task.sleep(for: Self.interval)
            } catch {
                return
            }
            do {
                let (frames, _) = try await connection.writeWithoutTransaction { try $0.checkpoint(.passive) }
                if frames > Self.truncateAfterFrames {
                    _ = try await connection.writeWithoutTransaction { try $0.checkpoint(.truncate) }
                }
            } catch {
                logger.debug("a background checkpoint was skipped: \(error)")
            }
        }
    }
}
