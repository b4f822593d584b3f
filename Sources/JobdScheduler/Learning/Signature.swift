import JobdProtocol

/// What jobd learns a class for: the identity of "the same work" across jobs (DESIGN §3; the rule is
/// written out in docs/CLASSIFICATION.md).
///
/// - A handler job: its kind (`sha256`).
/// - An exec job: the resolved executable (`/usr/bin/ffmpeg`). Launchers that only wrap a command
///   (`env`, `nice`, `timeout`, `nohup`, `ionice`, `taskset`, `stdbuf`, `chrt`, `time`) are looked
///   through to the command they launch. For an interpreter (`sh`, `bash`, `python3`, `node`, …) the
///   signature is the interpreter and its script (`/usr/bin/python3 /home/u/train.py`), made absolute
///   from the job's cwd, or `-m module`; for `-c`/`-e` code, a shell's first command word is looked
///   through like a command, and other code is named by a hash of its text.
public enum Signature {
    /// How many launchers deep to look; a loop of wrappers is not worth more.
    private static let maximumDepth = 8

    public static func of(kind: String) -> String { kind }

    /// - Parameter resolve: a command name to its absolute executable path (PATH lookup), or nil.
    public static func of(argv: [String], cwd: String?, resolve: (String) -> String?) -> String {
        signature(argv[...], cwd: cwd, resolve: resolve, depth: 0)
    }

    private static func signature(
        _ argv: ArraySlice<String>, cwd: String?, resolve: (String) -> String?, depth: Int
    ) -> String {
        guard let command = argv.first else { return "" }
        // `./build.sh` and `build.sh` found in the same directory are one command: "." and empty parts of
        // the path found go (a lookup relative to the cwd yields `/home/u/./build.sh`).
        let path = normalized(resolve(command) ?? command)
        let name = baseName(path)
        let rest = argv.dropFirst()
        guard depth < maximumDepth else { return path }
        if let skip = launchers[name] {
            if let launched = skip(rest) { return signature(launched, cwd: cwd, resolve: resolve, depth: depth + 1) }
            return path
        }
        if let style = interpreterStyle(name) {
            return interpreted(path: path, style: style, rest, cwd: cwd, resolve: resolve, depth: depth)
        }
        return path
    }

    // MARK: - Interpreters

    private enum InterpreterStyle { case shell, python, other }

    private static func interpreterStyle(_ name: String) -> InterpreterStyle? {
        if ["sh", "bash", "dash", "zsh", "ksh", "fish"].contains(name) { return .shell }
        if name.hasPrefix("python") || name == "pypy" || name == "pypy3" { return .python }
        if ["node", "nodejs", "deno", "bun", "ruby", "perl", "php", "Rscript", "lua", "tclsh", "julia"].contains(name) {
            return .other
        }
        return nil
    }

    private static func interpreted(
        path: String, style: InterpreterStyle, _ arguments: ArraySlice<String>, cwd: String?,
        resolve: (String) -> String?, depth: Int
    ) -> String {
        var index = arguments.startIndex
        while index < arguments.endIndex {
            let argument = arguments[index]
            if argument == "-c" || argument == "-e" || argument == "--eval" {
                let code = index + 1 < arguments.endIndex ? arguments[index + 1] : ""
                if style == .shell, let words = simpleCommand(code) {
                    return signature(words[...], cwd: cwd, resolve: resolve, depth: depth + 1)
                }
                return "\(path) \(argument) #\(hash(code))"
            }
            if style == .python && argument == "-m" {
                return index + 1 < arguments.endIndex ? "\(path) -m \(arguments[index + 1])" : path
            }
            if argument == "--" {
                index += 1
                continue
            }
            if argument.hasPrefix("-") {
                index += 1
                continue
            }
            return "\(path) \(absolute(argument, cwd: cwd))"
        }
        return path  // an interactive interpreter reading stdin
    }

    /// The words of shell code that starts with a plain command (`exec ffmpeg -i a b; echo done` gives
    /// `ffmpeg -i a b`); nil when it starts with anything a shell would parse first (assignments,
    /// quotes, substitutions, compound commands).
    private static func simpleCommand(_ code: String) -> [String]? {
        let firstCommand = code.split(whereSeparator: { ";|&\n".contains($0) }).first ?? ""
        var words = firstCommand.split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init)
        if words.first == "exec" { words.removeFirst() }
        guard let first = words.first else { return nil }
        let special = "=\"'$`(){}[]<>*?~\\"
        if first.contains(where: { special.contains($0) }) { return nil }
        if ["if", "for", "while", "until", "case", "!"].contains(first) { return nil }
        return words
    }

    // MARK: - Launchers

    /// For each launcher, how to find the command it launches in its arguments.
    private static let launchers: [String: @Sendable (ArraySlice<String>) -> ArraySlice<String>?] = [
        "env": { args in
            var rest = args
            while let first = rest.first, first.hasPrefix("-") || first.contains("=") {
                rest = rest.dropFirst()
                if first == "-u" || first == "-C" || first == "--chdir" || first == "--unset" { rest = rest.dropFirst() }
            }
            return rest.isEmpty ? nil : rest
        },
        "nice": { skipOptions($0, taking: ["-n", "--adjustment"]) },
        "nohup": { skipOptions($0, taking: []) },
        "ionice": { skipOptions($0, taking: ["-c", "-n", "-p", "-P", "-u", "--class", "--classdata"]) },
        "stdbuf": { skipOptions($0, taking: ["-i", "-o", "-e"]) },
        "time": { skipOptions($0, taking: ["-f", "-o", "--format", "--output"]) },
        "timeout": { args in
            // timeout [options] DURATION COMMAND...
            guard let afterOptions = skipOptions(args, taking: ["-s", "-k", "--signal", "--kill-after"]) else { return nil }
            let rest = afterOptions.dropFirst()
            return rest.isEmpty ? nil : rest
        },
        "taskset": { args in
            // taskset [options] MASK COMMAND... (with -p it acts on a pid, launching nothing)
            guard !args.contains("-p"), let afterOptions = skipOptions(args, taking: []) else { return nil }
            let rest = afterOptions.dropFirst()
            return rest.isEmpty ? nil : rest
        },
        "chrt": { args in
            guard !args.contains("-p"), let afterOptions = skipOptions(args, taking: ["-T", "-P", "-D"]) else { return nil }
            let rest = afterOptions.dropFirst()
            return rest.isEmpty ? nil : rest
        },
    ]

    /// The arguments after the launcher's own options; `taking` lists options that consume a value.
    private static func skipOptions(_ args: ArraySlice<String>, taking: Set<String>) -> ArraySlice<String>? {
        var rest = args
        while let first = rest.first, first.hasPrefix("-") {
            rest = rest.dropFirst()
            if first == "--" { break }
            if taking.contains(first) { rest = rest.dropFirst() }
        }
        return rest.isEmpty ? nil : rest
    }

    // MARK: - Helpers

    private static func baseName(_ path: String) -> String {
        path.split(separator: "/").last.map(String.init) ?? path
    }

    /// An absolute path without "." or empty components; anything else as it is.
    private static func normalized(_ path: String) -> String {
        guard path.hasPrefix("/") else { return path }
        return "/" + path.split(separator: "/").filter { $0 != "." }.joined(separator: "/")
    }

    private static func absolute(_ path: String, cwd: String?) -> String {
        guard !path.hasPrefix("/"), let cwd else { return path }
        var parts = cwd.split(separator: "/").map(String.init)
        for part in path.split(separator: "/") {
            if part == "." { continue }
            if part == ".." { _ = parts.popLast() } else { parts.append(String(part)) }
        }
        return "/" + parts.joined(separator: "/")
    }

    /// FNV-1a, 64 bits, as 16 hex digits: stable across runs and builds (Swift's `hashValue` is not).
    static func hash(_ text: String) -> String {
        var value: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in text.utf8 {
            value ^= UInt64(byte)
            value = value &* 0x100_0000_01b3
        }
        let hex = String(value, radix: 16)
        return String(repeating: "0", count: 16 - hex.count) + hex
    }
}
