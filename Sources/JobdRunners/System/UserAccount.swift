import Glibc

/// A user's entry in the password database.
public struct UserAccount: Sendable, Hashable {
    public var name: String
    public var home: String
    public var shell: String

    /// The entry for `uid`, or nil if there is none (or the lookup failed).
    /// The corresponding C function is `getpwuid_r`.
    public static func lookup(uid: UInt32) -> UserAccount? {
        var entry = passwd()
        var found: UnsafeMutablePointer<passwd>?
        var buffer = [CChar](repeating: 0, count: 4096)
        while true {
            let error = buffer.withUnsafeMutableBufferPointer { bytes -> Int32 in
                guard let base = bytes.baseAddress else { return ERANGE }
                return getpwuid_r(uid, &entry, base, bytes.count, &found)
            }
            // ERANGE: an entry longer than the buffer (a long GECOS field); try again with more room.
            if error == ERANGE && buffer.count < 1 << 20 {
                buffer = [CChar](repeating: 0, count: buffer.count * 4)
                continue
            }
            guard error == 0, found != nil else { return nil }
            return UserAccount(
                name: entry.pw_name.map { String(cString: $0) } ?? "\(uid)",
                home: entry.pw_dir.map { String(cString: $0) } ?? "/",
                shell: entry.pw_shell.map { String(cString: $0) } ?? "/bin/sh")
        }
    }
}
