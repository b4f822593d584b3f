import Foundation

/// Programs some tests run that are not part of jobd. `make deps` installs them; a test that needs one
/// that is missing is skipped with `.enabled(if:)` and says so, rather than failing as if jobd were wrong.
public enum SystemTools {
    /// The sqlite3 shell, with which a test reads the database file as a restart would find it.
    public static let sqlite3 = "/usr/bin/sqlite3"

    /// Whether ``sqlite3`` is there to run.
    public static var hasSQLite3: Bool { FileManager.default.isExecutableFile(atPath: sqlite3) }

    /// tmux, the terminal in which a test looks at `jobctl watch` as a person would (``TmuxServer``).
    public static let tmux = "/usr/bin/tmux"

    /// Whether ``tmux`` is there to run.
    public static var hasTmux: Bool { FileManager.default.isExecutableFile(atPath: tmux) }
}
