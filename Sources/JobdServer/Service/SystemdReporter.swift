import JobdStore
import Logging

/// The two loops that keep systemd informed while the daemon serves: `STATUS=` when the counts change,
/// and `WATCHDOG=1` at half the watchdog timeout. Both end when their task is cancelled.
struct SystemdReporter: Sendable {
    let notifier: SystemdNotifier
    let dispatcher: Dispatcher
    let store: SQLiteStore
    let logger: Logger

    /// At most four `STATUS=` a second: `systemctl status` is read by people, and a busy queue changes its
    /// counts thousands of times a second.
    static let statusInterval = Duration.milliseconds(250)

    func run() async {
        guard notifier.isEnabled else { return }
        await withDiscardingTaskGroup { group in
            group.addTask { await reportStatus() }
            if let interval = notifier.watchdogInterval {
                group.addTask { await keepWatchdogFed(every: interval) }
            }
        }
    }

    private func reportStatus() async {
        var sent: String?
        while !Task.isCancelled {
            let text = ServiceStatus.text(await dispatcher.snapshot(), pool: await dispatcher.workers())
            if text != sent {
                notifier.status(text)
                sent = text
            }
            try? await Task.sleep(for: Self.statusInterval)
        }
    }

    /// Each ping first waits for a turn on the dispatcher's actor and for an empty write through the
    /// store's group committer: if either hangs, the pings stop and systemd restarts the daemon, which is
    /// the point of a watchdog. A timer alone would keep pinging for a daemon that serves nothing.
    private func keepWatchdogFed(every interval: Duration) async {
        while !Task.isCancelled {
            _ = await dispatcher.snapshot()
            do {
                try await store.checkWriter()
            } catch StoreError.closed {
                return  // the drain is over; systemd stops the watchdog as the unit deactivates
            } catch {
                // A failing disk is not a hang: commits report it to their callers; restarting would not help.
                logger.warning("watchdog: the database refused a write: \(error)")
            }
            notifier.watchdog()
            try? await Task.sleep(for: interval)
        }
    }
}
