import Dispatch

/// Threads for handler code that blocks. Dispatch's own concurrent queue: its threads are not the
/// cooperative pool's, so a blocking file read never holds back the daemon's tasks.
public final class BlockingPool: Sendable {
    public static let shared = BlockingPool()

    private let queue = DispatchQueue(label: "jobd.blocking", attributes: .concurrent)

    /// Runs `body` on a pool thread and returns its result.
    public func run<T: Sendable>(
        _ body: @escaping @Sendable () throws(HandlerError) -> T
    ) async throws(HandlerError) -> T {
        let result: Result<T, HandlerError> = await withCheckedContinuation { continuation in
            queue.async {
                do throws(HandlerError) {
                    continuation.resume(returning: .success(try body()))
                } catch {
                    continuation.resume(returning: .failure(error))
                }
            }
        }
        return try result.get()
    }
}
