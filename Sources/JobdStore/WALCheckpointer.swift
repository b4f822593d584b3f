import GRDB
import Logging

/// Copies the write-ahead log back into the database file from a connection of its own, every quarter
/// second, so that no commit pays for it.
///
/// SQLite's automatic checkpoint runs inside the commit that crosses its threshold (1,000 pages): that
/// commit then copies and fsyncs megabytes, and the submit or outcome behind it waits (the p99 of a
/// stream of small jobs, issue 12). A passive checkpoint here never blocks the writer: it copies what
/// no reader still needs and lets the writer go on appending. The writer keeps an automatic checkpoint at
/// a far higher threshold (``fallbackPages``), as a bound on the log should this one fall behind.
final class WALCheckpointer: Sendable {
    /// The writer's own automatic checkpoint threshold, in pages (64 MiB of 4 KiB pages).
    static let fallbackPages = 16_384
    static let interval = Duration.milliseconds(250)

    private let connection: DatabaseQueue
    private let logger: Logger

    /// Opens a second connection to the database at `path`; nil (and the writer checkpoints as SQLite
    /// does by default) if it cannot be opened.
    init?(path: String, logger: Logger) {
        var configuration = Configuration()
        configuration.label = "jobd.checkpoint"
        // A checkpoint that finds the log busy skips this round; it never waits for a lock.
        configuration.busyMode = .immediateError
        do {
            connection = try DatabaseQueue(path: path, configuration: configuration)
        } catch {
            logger.warning("the database's log is checkpointed by its commits: a second connection failed: \(error)")
            return nil
        }
        self.logger = logger
    }

    /// Checkpoints every ``interval`` until the task is cancelled.
    func run() async {
        while !Task.isCancelled {
            do {
                try await Task.sleep(for: Self.interval)
            } catch {
                return
            }
            do {
                _ = try await connection.writeWithoutTransaction { try $0.checkpoint(.passive) }
            } catch {
                logger.debug("a background checkpoint was skipped: \(error)")
            }
        }
    }
}
