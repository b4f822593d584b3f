import Foundation
import JobdRunners
import Synchronization
import Testing

/// The threads that run calls which may block for a job's owner (spawns, lookups, opens).
struct OwnerThreadsTests {
    @Test func anOwnersBlockedCallsHoldNeitherAnotherOwnersCallNorMoreThanTheirTurn() async {
        let order = Record()
        let release = Record()
        await withTaskGroup(of: Void.self) { group in
            // Owner 1's calls block until released: more of them than their turn allows.
            for index in 0..<(OwnerThreads.perOwner + 2) {
                group.addTask {
                    await OwnerThreads.shared.run(as: 90_001) {
                        while release.isEmpty { usleep(1000) }
                        order.append("blocked \(index)")
                    }
                }
            }
            group.addTask {
                await OwnerThreads.shared.run(as: 90_002) { order.append("other owner") }
                release.append("go")
            }
        }
        let seen = order.values
        #expect(seen.first == "other owner", "another owner's call ran while owner 1's were blocked: \(seen)")
        #expect(seen.count == OwnerThreads.perOwner + 3)
    }
}

/// A list several threads append to.
private final class Record: Sendable {
    private let items = Mutex<[String]>([])
    func append(_ item: String) { items.withLock { $0.append(item) } }
    var values: [String] { items.withLock { $0 } }
    var isEmpty: Bool { items.withLock { $0.isEmpty } }
}
