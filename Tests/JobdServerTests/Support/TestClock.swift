import JobdProtocol
import Synchronization

/// The wall time the dispatcher writes into rows (`now`), set by the test: a row's `started_at` or
/// `finished_at` is then an exact value, not "about now".
final class TestClock: Sendable {
    private let current: Mutex<Timestamp>

    init(_ start: Timestamp = Timestamp(secondsSinceEpoch: 1_800_000_000)) {
        current = Mutex(start)
    }

    func now() -> Timestamp { current.withLock { $0 } }

    func advance(bySeconds seconds: Double) {
        current.withLock { $0.secondsSinceEpoch += seconds }
    }
}
