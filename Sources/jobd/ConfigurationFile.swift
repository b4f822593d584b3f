import ArgumentParser
import Foundation
import TOMLKit

/// jobd's TOML configuration file: `/etc/jobd/jobd.toml` for root, `$XDG_CONFIG_HOME/jobd/jobd.toml` (else
/// `~/.config/jobd/jobd.toml`) for anyone else, or `--config PATH`.
///
/// **Every key is a flag and every flag is a key**, spelled the same (`cpu-workers = 4` is `--cpu-workers 4`).
/// The file is turned into command-line arguments placed before the real ones, so one parser checks both
/// and a flag given on the command line wins (ArgumentParser keeps the last value of an option).
/// The keys are read off `JobdCommand`'s `@Option`s themselves: a new option is a new key with no other change.
struct ConfigurationFile {
    /// One thing wrong with the file, with the line it is on (nil when it is about the file as a whole).
    struct Problem: Error, CustomStringConvertible, Equatable {
        var line: Int?
        var message: String
        var description: String { line.map { "line \($0): \(message)" } ?? message }
    }

    /// All that is wrong with a file; a file with any problem is not used at all.
    struct Rejected: Error, CustomStringConvertible {
        var path: String
        var problems: [Problem]
        var description: String {
            problems.map { "\(path): \($0)" }.joined(separator: "\n")
        }
    }

    /// The TOML type a key takes, from its option's Swift type.
    enum Kind: Equatable {
        case integer
        case number
        case text

        var name: String {
            switch self {
            case .integer: "an integer"
            case .number: "a number"
            case .text: "a string"
            }
        }
    }

    /// Options that are not settings of the daemon: where the file is, a test hook.
    static let excludedOptions: Set<String> = ["config", "check-config", "lock-wait"]

    /// Every key a file may hold, with its kind: `JobdCommand`'s options, read by reflection.
    static let keys: [String: Kind] = {
        var keys: [String: Kind] = [:]
        for child in Mirror(reflecting: JobdCommand()).children {
            guard let label = child.label, label.hasPrefix("_") else { continue }
            // "Option<Int>", "Option<Optional<Double>>", …: the wrapped type decides the TOML type.
            let type = String(describing: Swift.type(of: child.value))
            guard type.hasPrefix("Option<") else { continue }
            let name = flagName(String(label.dropFirst()))
            guard !excludedOptions.contains(name) else { continue }
            keys[name] = type.contains("Int") ? .integer : type.contains("Double") ? .number : .text
        }
        return keys
    }()

    /// ArgumentParser's spelling of a property as a flag: `maxConnectionsPerUser` is `max-connections-per-user`.
    static func flagName(_ property: String) -> String {
        var name = ""
        for character in property {
            if character.isUppercase {
                name += "-" + character.lowercased()
            } else {
                name.append(character)
            }
        }
        return name
    }

    /// Where the file is when `--config` is not given.
    static func defaultPath(environment: [String: String], isRoot: Bool) -> String {
        if isRoot { return "/etc/jobd/jobd.toml" }
        if let config = environment["XDG_CONFIG_HOME"], config.hasPrefix("/") { return config + "/jobd/jobd.toml" }
        return (environment["HOME"] ?? "") + "/.config/jobd/jobd.toml"
    }

    let path: String
    /// The file as arguments: `["--cpu-workers=4", …]`.
    let arguments: [String]

    /// Reads and checks a file.
    /// - Parameter required: false for the default path, where a missing file means "no settings".
    /// - Throws: `Rejected` with every problem found.
    static func load(path: String, required: Bool) throws(Rejected) -> ConfigurationFile {
        guard let data = FileManager.default.contents(atPath: path) else {
            if !required, !FileManager.default.fileExists(atPath: path) {
                return ConfigurationFile(path: path, arguments: [])
            }
            throw Rejected(path: path, problems: [Problem(line: nil, message: "cannot read the file (missing, or not readable)")])
        }
        guard let text = String(data: data, encoding: .utf8) else {
            throw Rejected(path: path, problems: [Problem(line: nil, message: "not UTF-8 text")])
        }
        let arguments = try parse(text, path: path)
        return ConfigurationFile(path: path, arguments: arguments)
    }

    /// Turns the text into arguments, checking every key's name, type and value.
    static func parse(_ text: String, path: String) throws(Rejected) -> [String] {
        let table: TOMLTable
        do {
            table = try TOMLTable(string: text)
        } catch let error as TOMLParseError {
            throw Rejected(path: path, problems: [Problem(line: error.source.begin.line, message: error.description)])
        } catch {
            throw Rejected(path: path, problems: [Problem(line: nil, message: "\(error)")])
        }
        var problems: [Problem] = []
        var arguments: [String] = []
        for key in table.keys.sorted(by: { line(of: $0, in: text) ?? 0 < line(of: $1, in: text) ?? 0 }) {
            let line = line(of: key, in: text)
            guard let kind = keys[key] else {
                let hint = keys.keys.first { $0.replacingOccurrences(of: "-", with: "_") == key || $0 == key.lowercased() }
                problems.append(
                    Problem(line: line, message: "unknown key '\(key)'" + (hint.map { "; did you mean '\($0)'?" } ?? "")))
                continue
            }
            guard let value = table[key], let text = argument(value, as: kind) else {
                problems.append(Problem(line: line, message: "'\(key)' takes \(kind.name)"))
                continue
            }
            // Each key alone through the real parser: its range checks, with its own line.
            do {
                _ = try JobdCommand.parseAsRoot(["--\(key)=\(text)"])
            } catch {
                problems.append(Problem(line: line, message: JobdCommand.message(for: error)))
                continue
            }
            // One word, so a value that starts with "-" is not read as a flag.
            arguments.append("--\(key)=\(text)")
        }
        if problems.isEmpty {
            // Checks that involve two keys (io-threshold below cpu-threshold).
            do {
                _ = try JobdCommand.parseAsRoot(arguments)
            } catch {
                problems.append(Problem(line: nil, message: JobdCommand.message(for: error)))
            }
        }
        guard problems.isEmpty else { throw Rejected(path: path, problems: problems) }
        return arguments
    }

    /// A TOML value as the text of a flag, or nil when its type is not the key's.
    private static func argument(_ value: any TOMLValueConvertible, as kind: Kind) -> String? {
        switch (kind, value.type) {
        case (.integer, .int): value.int.map { "\($0)" }
        case (.number, .int): value.int.map { "\($0)" }
        case (.number, .double): value.double.map { "\($0)" }
        case (.text, .string): value.string
        // A size or a duration given as a bare number of bytes or seconds (`retention = 3600`).
        case (.text, .int): value.int.map { "\($0)" }
        default: nil
        }
    }

    /// The line a top-level key is set on (or its `[table]` starts on): TOMLKit reports positions for
    /// parse errors only. Good for the flat files jobd reads; a key inside a multi-line string could fool it.
    static func line(of key: String, in text: String) -> Int? {
        let spellings = [key, "\"\(key)\"", "'\(key)'"]
        let blank: (Character) -> Bool = { $0 == " " || $0 == "\t" }
        for (index, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let trimmed = line.drop(while: blank)
            let header = trimmed.hasPrefix("[") ? trimmed.drop { $0 == "[" }.drop(while: blank) : nil
            for spelling in spellings {
                if trimmed.hasPrefix(spelling) {
                    let after = trimmed.dropFirst(spelling.count).drop(while: blank)
                    if after.hasPrefix("=") || after.hasPrefix(".") { return index + 1 }
                }
                if let header, header.hasPrefix(spelling) {
                    let after = header.dropFirst(spelling.count).drop(while: blank)
                    if after.hasPrefix("]") || after.hasPrefix(".") { return index + 1 }
                }
            }
        }
        return nil
    }
}
