import Foundation

/// The daemon's own environment, and the one a job gets when it brings none.
public enum ProcessEnvironment {
    public static var current: [String: String] { ProcessInfo.processInfo.environment }

    /// HOME, USER, LOGNAME and SHELL from the password entry (HOME=/ and SHELL=/bin/sh without one), and
    /// a standard PATH: `login(1)`'s choice, with the sbin directories for root only.
    public static func clean(forUser uid: UInt32) -> [String: String] {
        let account = UserAccount.lookup(uid: uid)
        let name = account?.name ?? "\(uid)"
        return [
            "HOME": account?.home ?? "/",
            "USER": name,
            "LOGNAME": name,
            "SHELL": account?.shell ?? "/bin/sh",
            "PATH": searchPath(forUser: uid),
        ]
    }

    /// The PATH of ``clean(forUser:)``.
    public static func searchPath(forUser uid: UInt32) -> String {
        uid == 0 ? "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" : "/usr/local/bin:/usr/bin:/bin"
    }

    /// The PATH a job of `owner` without `env` searches when it runs (see `ExecRunner.defaultEnvironment`).
    public static func defaultSearchPath(forJobOwnedBy owner: UInt32) -> String? {
        SystemInfo.userID == 0 ? searchPath(forUser: owner) : current["PATH"]
    }
}
