import JobdRunners
import Logging

/// Tells systemd how the daemon is doing, over `$NOTIFY_SOCKET` (sd_notify(3)): `READY=1`, `STATUS=`,
/// `WATCHDOG=1`, `RELOADING=1`, `STOPPING=1`. Sends nothing when the variable is unset.
///
/// Written by hand rather than linking libsystemd or a package: the protocol is one datagram of
/// `KEY=value` lines to a Unix socket, no Swift sd_notify library is in the package list, and linking
/// libsystemd would make every build and install need its headers. A failed send is logged at debug
/// level and otherwise ignored: systemd going away must not take the daemon down.
public struct SystemdNotifier: Sendable {
    /// The socket to send to; nil: not run by systemd (or not `Type=notify`), send nothing.
    public let address: String?
    /// How often to send `WATCHDOG=1`: half of `$WATCHDOG_USEC`, as sd_watchdog_enabled(3) advises; nil when
    /// the unit has no watchdog, or the watchdog is meant for another process (`$WATCHDOG_PID`).
    public let watchdogInterval: Duration?
    private let logger: Logger

    /// Reads `NOTIFY_SOCKET`, `WATCHDOG_USEC` and `WATCHDOG_PID` from `environment`.
    public init(environment: [String: String], processID: Int32, logger: Logger) {
        let address = environment["NOTIFY_SOCKET"].flatMap { $0.isEmpty ? nil : $0 }
        self.address = address
        self.logger = logger
        let pidMatches = environment["WATCHDOG_PID"].map { Int32($0) == processID } ?? true
        if address != nil, pidMatches, let text = environment["WATCHDOG_USEC"], let usec = UInt64(text), usec > 0,
            usec < UInt64(Int64.max / 1_000)
        {
            watchdogInterval = .microseconds(Int64(usec / 2))
        } else {
            watchdogInterval = nil
        }
    }

    /// The variables systemd sets for this process alone; unset once read, so jobs and workers do not
    /// send on the daemon's behalf (`NotifyAccess=main` would drop it, but a worker's stray `READY=1`
    /// under `NotifyAccess=all` would lie).
    public static let environmentVariables = ["NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID"]

    /// Whether anything is sent at all.
    public var isEnabled: Bool { address != nil }

    /// The socket serves and recovery is done.
    public func ready() { send("READY=1") }

    /// A reload starts; `ready()` ends it. systemd requires `MONOTONIC_USEC=` with `RELOADING=1` for
    /// `Type=notify-reload` and accepts it for `Type=notify`.
    public func reloading() { send("RELOADING=1\nMONOTONIC_USEC=\(SystemInfo.monotonicMicroseconds)") }

    /// A drain starts: systemd shows "deactivating" and starts `TimeoutStopSec=` now.
    public func stopping() { send("STOPPING=1") }

    /// The one-line status `systemctl status` shows.
    public func status(_ text: String) {
        // A newline would start another KEY= line.
        send("STATUS=" + text.split(whereSeparator: \.isNewline).joined(separator: " "))
    }

    /// The daemon is alive.
    public func watchdog() { send("WATCHDOG=1") }

    private func send(_ message: String) {
        guard let address else { return }
        if let error = UnixDatagram.send(message, to: address) {
            logger.debug("sd_notify \(message.prefix(while: { $0 != "=" })): \(error)")
        }
    }
}
