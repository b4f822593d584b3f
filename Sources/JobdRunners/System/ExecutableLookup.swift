import CJobdSystem
import Glibc

/// Finds the file `execve` should run for `argv[0]`, the way a shell does, so that "not found" and
/// "not executable" are reported with the name the user typed before anything is spawned.
///
/// **Every check runs with the permissions of the job's owner**, so a command behind a directory the owner
/// cannot search reads "command not found", exactly like a missing one: a root daemon must not tell a user
/// what exists where they cannot look.
public enum ExecutableLookup {
    /// Why a command cannot be run.
    public enum Failure: Error, Hashable, CustomStringConvertible {
        case notFound(String)
        case notExecutable(String)
        case isDirectory(String)
        /// The daemon could not take the owner's file-system identity to look.
        case cannotCheck(String, reason: String)

        public var description: String {
            switch self {
            case .cannotCheck(let path, let reason): "cannot check \(path) with the job owner's permissions: \(reason)"
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
    ///   - identity: the owner whose permissions the checks use (a root daemon, a job of another user);
    ///     nil checks as this process.
    public static func resolve(
        _ command: String, searchPath: String?, cwd: String?, as identity: Identity? = nil
    ) -> Result<String, Failure> {
        if command.contains("/") {
            let path = command.hasPrefix("/") ? command : cwd.map { $0 + "/" + command } ?? command
            return check(path, name: command, as: identity)
        }
        let directories = (searchPath ?? "/usr/local/bin:/usr/bin:/bin").split(separator: ":", omittingEmptySubsequences: false)
        var firstDenied: Failure?
        for directory in directories {
            let base = directory.isEmpty ? "." : String(directory)
            let candidate = base + "/" + command
            switch check(candidate, name: command, as: identity) {
            case .success(let path): return .success(path)
            case .failure(.notFound): continue
            case .failure(let other): firstDenied = firstDenied ?? other
            }
        }
        return .failure(firstDenied ?? .notFound(command))
    }

    /// The corresponding C functions are `stat` and `faccessat`, run as the owner (`jobd_probe_executable_as`).
    private static func check(_ path: String, name: String, as identity: Identity?) -> Result<String, Failure> {
        let result = jobd_probe_executable_as(path, identity.map { Int64($0.uid) } ?? -1, identity.map { Int64($0.gid) } ?? -1)
        switch result {
        case Int32(JOBD_PROBE_EXECUTABLE): return .success(path)
        case Int32(JOBD_PROBE_DIRECTORY): return .failure(.isDirectory(path))
        case Int32(JOBD_PROBE_NOT_EXECUTABLE): return .failure(.notExecutable(path))
        case ..<0: return .failure(.cannotCheck(path, reason: errnoText(-result)))
        default: return .failure(.notFound(name))
        }
    }
}
