import Glibc

/// Finds the file `execve` should run for `argv[0]`, the way a shell does, so that "not found" and
/// "not executable" are reported with the name the user typed before anything is spawned.
public enum ExecutableLookup {
    /// Why a command cannot be run.
    public enum Failure: Error, Hashable, CustomStringConvertible {
        case notFound(String)
        case notExecutable(String)
        case isDirectory(String)

        public var description: String {
            switch self {
            case .notFound(let name): "command not found: \(name)"
            case .notExecutable(let path): "not executable: \(path) (permission denied)"
            case .isDirectory(let path): "is a directory, not a command: \(path)"
            }
        }
    }

    /// The absolute or relative path to execute.
    /// - Parameters:
    ///   - command: `argv[0]`; a name with a `/` is used as it is, relative to `cwd`.
    ///   - searchPath: the `PATH` to search (the job's own, else the daemon's).
    ///   - cwd: the job's working directory, for relative paths.
    public static func resolve(_ command: String, searchPath: String?, cwd: String?) -> Result<String, Failure> {
        if command.contains("/") {
            let path = command.hasPrefix("/") || cwd == nil ? command : cwd! + "/" + command
            return check(path, name: command)
        }
        let directories = (searchPath ?? "/usr/local/bin:/usr/bin:/bin").split(separator: ":", omittingEmptySubsequences: false)
        var firstDenied: Failure?
        for directory in directories {
            let base = directory.isEmpty ? "." : String(directory)
            let candidate = base + "/" + command
            switch check(candidate, name: command) {
            case .success(let path): return .success(path)
            case .failure(.notFound): continue
            case .failure(let other): firstDenied = firstDenied ?? other
            }
        }
        return .failure(firstDenied ?? .notFound(command))
    }

    private static func check(_ path: String, name: String) -> Result<String, Failure> {
        var info = stat()
        guard stat(path, &info) == 0 else { return .failure(.notFound(name)) }
        if (info.st_mode & S_IFMT) == S_IFDIR { return .failure(.isDirectory(path)) }
        guard access(path, X_OK) == 0 else { return .failure(.notExecutable(path)) }
        return .success(path)
    }
}
