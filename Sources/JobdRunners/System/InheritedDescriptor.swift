import CJobdSystem
import Glibc

/// File descriptors this process was started with: the listening socket systemd passes (sd_listen_fds(3))
/// and the stream its stderr is connected to (`$JOURNAL_STREAM`).
public enum InheritedDescriptor {
    /// Whether `fd` is a listening `AF_UNIX` stream socket. The corresponding C function is `getsockopt`.
    public static func isListeningUnixSocket(_ fd: Int32) -> Result<Bool, SystemError> {
        let result = jobd_is_listening_unix_socket(fd)
        if result < 0 { return .failure(SystemError("descriptor \(fd): \(errnoText(-result))")) }
        return .success(result == 1)
    }

    /// Marks `fd` close-on-exec, so jobs and workers do not inherit it. The corresponding C function is `fcntl`.
    public static func setCloseOnExec(_ fd: Int32) -> SystemError? {
        let error = jobd_set_cloexec(fd)
        return error == 0 ? nil : SystemError("descriptor \(fd): \(errnoText(error))")
    }

    /// The device and inode `fd` refers to, or nil when it is not open. The corresponding C function is `fstat`.
    public static func identity(of fd: Int32) -> (device: UInt64, inode: UInt64)? {
        var device: UInt64 = 0
        var inode: UInt64 = 0
        return jobd_fd_identity(fd, &device, &inode) == 0 ? (device, inode) : nil
    }

    /// Removes variables from this process's environment, so that processes it starts do not see them
    /// (systemd's `LISTEN_*` are meant for this process only). The corresponding C function is `unsetenv`.
    public static func unsetEnvironment(_ names: [String]) {
        for name in names { unsetenv(name) }
    }
}
