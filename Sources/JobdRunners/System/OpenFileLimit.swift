import CJobdSystem

/// The number of descriptors jobd may hold (RLIMIT_NOFILE).
public enum OpenFileLimit {
    /// Raises the soft limit to the hard one. Every I/O job the daemon runs holds a pidfd and two pipes (and
    /// its log and index while it writes), so the soft limit systemd starts services with (1024) would cap
    /// jobd at about 300 running jobs. Jobs still
    /// get the soft limit jobd was started with (see `jobd_spawn`).
    /// The corresponding C functions are `getrlimit` and `setrlimit`.
    /// - Returns: the soft limit before and after.
    public static func raiseToHardLimit() -> Result<(before: UInt64, now: UInt64), SystemError> {
        var before: UInt64 = 0
        var now: UInt64 = 0
        let error = jobd_raise_open_file_limit(&before, &now)
        guard error == 0 else {
            return .failure(SystemError("cannot raise the open file limit (soft \(before)): \(errnoText(error))"))
        }
        return .success((before, now))
    }
}
