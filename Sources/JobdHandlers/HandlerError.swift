/// Why a handler's attempt failed, in a sentence for `jobctl show`.
public struct HandlerError: Error, Hashable, Sendable, CustomStringConvertible {
    public var message: String

    public init(_ message: String) {
        self.message = message
    }

    /// The attempt stopped because it was cancelled (by a user, a timeout, or a shutdown).
    public static let cancelled = HandlerError("stopped: the attempt was cancelled")

    public var description: String { message }
}
