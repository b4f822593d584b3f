import Foundation

/// A fresh directory under /tmp, removed by `remove()`. Paths stay short: a Unix socket path must fit
/// in 108 bytes.
public struct TempDirectory: Sendable {
    public let path: String

    public init() throws {
        var template = Array("/tmp/jobd-test-XXXXXX".utf8CString)
        guard let made = mkdtemp(&template) else { throw TimedOut("mkdtemp failed") }
        path = String(cString: made)
    }

    public func file(_ name: String) -> String { path + "/" + name }

    public func remove() { try? FileManager.default.removeItem(atPath: path) }
}
