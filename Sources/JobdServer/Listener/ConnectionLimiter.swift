import JobdRunners
import Synchronization

/// Counts open connections, in total and per uid, and refuses one past either limit.
///
/// **No user can hold every connection**: idle connections are allowed (clients wait between calls), so
/// without a cap one user could open descriptors until the daemon runs out and nobody else gets in.
final class ConnectionLimiter: Sendable {
    /// Why a connection was refused.
    enum Refusal: Error, CustomStringConvertible {
        /// The daemon holds `limit` connections (`jobd --max-connections`).
        case total(limit: Int)
        /// This uid holds `limit` connections (`jobd --max-connections-per-user`).
        case perUser(uid: UInt32, limit: Int)

        var description: String {
            switch self {
            case .total(let limit):
                "jobd already holds \(limit) connections (--max-connections); close idle ones or try again later"
            case .perUser(let uid, let limit):
                "uid \(uid) already holds \(limit) connections to jobd (--max-connections-per-user); "
                    + "close idle ones (one connection carries any number of calls) or try again later"
            }
        }
    }

    private struct Counts {
        var total = 0
        var byUser: [UInt32: Int] = [:]
    }

    /// The running configuration: its connection limits as they are when a connection comes (a reload
    /// that lowers them closes none already open).
    private let configuration: Setting<DaemonConfiguration>
    private let counts = Mutex(Counts())

    /// Connections root may hold past `max-connections`: other users who fill the daemon's connections
    /// cannot lock the administrator out of `jobctl status` or `cancel` (found in review, issue 19).
    static let rootReserve = 2

    init(configuration: Setting<DaemonConfiguration>) {
        self.configuration = configuration
    }

    /// Counts a new connection of `uid`, or refuses it (and counts nothing).
    func admit(_ uid: UInt32) -> Refusal? {
        let (maximumTotal, maximumPerUser) = (configuration.maximumConnections, configuration.maximumConnectionsPerUser)
        let totalForThem = uid == 0 ? maximumTotal + Self.rootReserve : maximumTotal
        return counts.withLock { counts in
            if counts.total >= totalForThem { return .total(limit: maximumTotal) }
            let mine = counts.byUser[uid, default: 0]
            if mine >= maximumPerUser { return .perUser(uid: uid, limit: maximumPerUser) }
            counts.total += 1
            counts.byUser[uid] = mine + 1
            return nil
        }
    }

    /// Forgets a connection that ``admit(_:)`` counted.
    func release(_ uid: UInt32) {
        counts.withLock { counts in
            counts.total -= 1
            let mine = counts.byUser[uid, default: 1] - 1
            counts.byUser[uid] = mine > 0 ? mine : nil
        }
    }
}
