/// Where jobd listens and jobctl connects when nobody says otherwise.
public enum SocketLocation {
    /// The path, in order: `JOBD_SOCKET`; `$XDG_RUNTIME_DIR/jobd/jobd.sock` (a user's own daemon);
    /// `/run/jobd/jobd.sock` (the system service).
    ///
    /// - Parameter environment: the process environment (passed in, so this stays pure and testable).
    public static func defaultPath(environment: [String: String]) -> String {
        if let path = environment["JOBD_SOCKET"], !path.isEmpty { return path }
        if let runtime = environment["XDG_RUNTIME_DIR"], !runtime.isEmpty { return runtime + "/jobd/jobd.sock" }
        return "/run/jobd/jobd.sock"
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
