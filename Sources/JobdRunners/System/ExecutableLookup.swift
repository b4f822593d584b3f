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

    /// The path `execve` would run for `command`, checked as `identity` in a child with only that
    /// user's rights, on one of ``OwnerThreads`` (a path on a mount that never answers holds that thread
    /// alone, ~2 s at most).
    /// - Parameters:
    ///   - command: `argv[0]`; a name with a `/` is used as it is, relative to `cwd`.
    ///   - searchPath: the `PATH` to search (the job's own, else the default).
    ///   - cwd: the job's working directory, for relative paths.
    ///   - identity: the owner whose permissions the checks use (a root daemon, a job of another user);
    ///     nil checks as this process.
    public static func resolve(
        _ command: String, searchPath: String?, cwd: String?, as identity: Identity? = nil
    ) async -> Result<String, Failure> {
        await OwnerThreads.shared.run(as: identity?.uid) {
            resolveBlocking(command, searchPath: searchPath, cwd: cwd, as: identity)
        }
    }

    /// The corresponding C functions are `stat` and `faccessat`, run as the owner
    /// (`jobd_resolve_executable_as`).
    private static func resolveBlocking(
        _ command: String, searchPath: String?, cwd: String?, as identity: Identity?
    ) -> Result<String, Failure> {
        var resolved = [CChar](repeating: 0, count: 4096 + 256)
        let result = command.withCString { command in
            withOptional(searchPath) { searchPath in
                withOptional(cwd) { cwd in
                    jobd_resolve_executable_as(
                        command, searchPath, cwd, identity.map { Int64($0.uid) } ?? -1,
                        identity.map { Int64($0.gid) } ?? -1, &resolved, resolved.count)
                }
            }
        }
        let path = String(decoding: resolved.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        switch result {
        case Int32(JOBD_PROBE_EXECUTABLE): return .success(path)
        case Int32(JOBD_PROBE_DIRECTORY): return .failure(.isDirectory(path))
        case Int32(JOBD_PROBE_NOT_EXECUTABLE): return .failure(.notExecutable(path))
        case ..<0: return .failure(.cannotCheck(command, reason: errnoText(-result)))
        default: return .failure(.notFound(command))
        }
    }

    private static func withOptional<R>(_ string: String?, _ body: (UnsafePointer<CChar>?) -> R) -> R {
        guard let string else { return body(nil) }
        return string.withCString { body($0) }
    }
}
