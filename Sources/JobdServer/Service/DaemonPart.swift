import ServiceLifecycle

/// One long-running part of the daemon (the store's writer, the worker pool, the connections, the
/// dispatcher, …) as a service of jobd's `ServiceGroup`.
///
/// The group starts the parts in order and, at SIGTERM, shuts them down in reverse, waiting for each to
/// end before the next is told: so the order of ``JobdDaemon/parts()`` *is* the shutdown sequence, and no
/// part polls for another. A part runs `body` from the start; when the shutdown reaches it, `stop` runs
/// and the part ends once `body` has returned (or, for a part whose body only ends when cancelled, right
/// after `stop`).
struct DaemonPart: Service, CustomStringConvertible {
    enum Ending: Sendable {
        /// `stop` makes `body` return (the store closes, the dispatcher drains).
        case bodyReturnsAfterStop
        /// `body` runs until cancelled (client connections, periodic loops); it is cancelled after `stop`.
        case cancelBodyAfterStop
    }

    let description: String
    let ending: Ending
    let body: @Sendable () async -> Void
    let stop: @Sendable () async -> Void

    init(
        _ name: String, ending: Ending, body: @escaping @Sendable () async -> Void,
        stop: @escaping @Sendable () async -> Void = {}
    ) {
        self.description = name
        self.ending = ending
        self.body = body
        self.stop = stop
    }

    func run() async throws {
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await body() }
            do {
                try await gracefulShutdown()
            } catch {
                group.cancelAll()  // the group itself is cancelled: no orderly stop any more
                return
            }
            await stop()
            if ending == .cancelBodyAfterStop { group.cancelAll() }
        }
    }
}
