/// Where jobd listens and jobctl connects when nobody says otherwise.
public enum SocketLocation {
    /// The system daemon's socket, where every user's `jobctl` looks.
    public static let systemPath = "/run/jobd/jobd.sock"

    /// Where a daemon listens, in order: `JOBD_SOCKET`; for root, ``systemPath`` (a root daemon serves
    /// every user, and root's `$XDG_RUNTIME_DIR` is 0700: nobody else could reach it there, issue 18);
    /// for anyone else `$XDG_RUNTIME_DIR/jobd/jobd.sock` (their own daemon), else ``systemPath``.
    ///
    /// - Parameter environment: the process environment (passed in, so this stays pure and testable).
    public static func daemonPath(environment: [String: String], isRoot: Bool) -> String {
        if let path = environment["JOBD_SOCKET"], !path.isEmpty { return path }
        if !isRoot, let runtime = environment["XDG_RUNTIME_DIR"], !runtime.isEmpty { return runtime + "/jobd/jobd.sock" }
        return systemPath
    }

    /// Where a client connects, in order: `JOBD_SOCKET`; the user's own daemon's socket,
    /// `$XDG_RUNTIME_DIR/jobd/jobd.sock`, if it exists; else ``systemPath``.
    ///
    /// - Parameter exists: whether a path exists (the caller's `stat`; passed in to keep this pure).
    public static func clientPath(environment: [String: String], exists: (String) -> Bool) -> String {
        if let path = environment["JOBD_SOCKET"], !path.isEmpty { return path }
        if let runtime = environment["XDG_RUNTIME_DIR"], !runtime.isEmpty, exists(runtime + "/jobd/jobd.sock") {
            return runtime + "/jobd/jobd.sock"
        }
        return systemPath
    }

    /// The default database: `$XDG_STATE_HOME/jobd/jobd.db`, else `~/.local/state/jobd/jobd.db`.
    public static func defaultDatabasePath(environment: [String: String]) -> String {
        if let state = environment["XDG_STATE_HOME"], !state.isEmpty { return state + "/jobd/jobd.db" }
        let home = environment["HOME"].flatMap { $0.isEmpty ? nil : $0 } ?? "/var/lib"
        return home + "/.local/state/jobd/jobd.db"
    }

    /// The maximum varlink message size both sides accept by default: 1 MiB.
    public static let defaultMaximumMessageBytes = 1 << 20
}
