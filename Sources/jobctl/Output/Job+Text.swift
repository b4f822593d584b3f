import JobdProtocol

extension Job {
    /// The command line, or the handler and payload, in one line for tables.
    var commandLine: String {
        if let argv { return argv.map(Self.quoted).joined(separator: " ") }
        return "\(kind) \((try? WireJSON.encode(payload)).map { String(decoding: $0, as: UTF8.self) } ?? "")"
    }

    /// How it ended, in a few words: `exit 3`, `signal 9`, `not run` (cancelled before it started),
    /// `error`, or blank while it has not.
    var outcomeSummary: String {
        if let signal { return "signal \(signal)" }
        if let exitCode { return "exit \(exitCode)" }
        if state == .cancelled && startedAt == nil { return "not run" }
        if state.isFinished && error != nil { return "error" }
        return ""
    }

    /// Every field, one per line, for `jobctl show`.
    var detailText: String {
        var lines: [(String, String)] = [
            ("id", id.description),
            ("state", state.rawValue),
            ("name", name ?? "-"),
            ("kind", kind),
        ]
        if let argv { lines.append(("command", argv.map(Self.quoted).joined(separator: " "))) }
        if kind != "exec" { lines.append(("payload", Self.json(payload))) }
        if let cwd { lines.append(("cwd", cwd)) }
        lines += [
            ("queue", queue),
            // "cpu (learned from 7 runs of /usr/bin/ffmpeg: …)" reads as a sentence; the others name their rule.
            ("class", classReason.map {
                "\(self.class.rawValue) (\(classSource.rawValue)\($0.hasPrefix("from ") ? " " : ": ")\($0))"
            } ?? self.class.rawValue),
            ("priority", String(priority)),
            ("attempts", "\(attempts) (at most \(maxAttempts) unless jobd restarts mid-run)"),
            ("backoff", maxAttempts > 1 ? "\(backoff.rawValue), \(DurationText.format(seconds: backoffSeconds))" : "-"),
            ("run at", runAt?.rfc3339 ?? "-"),
            ("timeout", timeoutSeconds.map { DurationText.format(seconds: $0) } ?? "-"),
            ("owner", "uid \(ownerUID), gid \(ownerGID)"),
            ("created", createdAt.rfc3339),
            ("started", startedAt?.rfc3339 ?? "-"),
            ("finished", finishedAt?.rfc3339 ?? "-"),
            ("exit code", exitCode.map(String.init) ?? "-"),
            ("signal", signal.map(String.init) ?? "-"),
            ("error", error ?? "-"),
            ("wall time", wallSeconds.map { DurationText.format(seconds: $0) } ?? "-"),
            ("cpu time", cpuSeconds.map { cpu in
                let user = cpuUserSeconds ?? 0
                let system = cpuSystemSeconds ?? 0
                return "\(DurationText.format(seconds: cpu)) (user \(DurationText.format(seconds: user)), sys \(DurationText.format(seconds: system)))"
            } ?? "-"),
            // Labels of at most 9 characters keep the column where scripts and tests expect it.
            ("cpu wait", waitSeconds.map { "\(DurationText.format(seconds: $0)) runnable, waiting for a CPU" } ?? "-"),
            ("cpu ratio", cpuRatioText),
            ("peak rss", maxRSSBytes.map { "\($0 / 1024) KiB" } ?? "-"),
            ("worker", workerPID.map { "pid \($0)" } ?? "-"),
        ]
        if let result { lines.append(("result", Self.json(result))) }
        // Shown only when set: most jobs have none.
        if let onSuccess { lines.append(("on ok", onSuccess.debugDescription)) }
        if let onFailure { lines.append(("on fail", onFailure.debugDescription)) }
        if let hookOf { lines.append(("hook of", "job \(hookOf)")) }
        let width = lines.map(\.0.count).max() ?? 0
        return lines.map { "\($0.0.padded(to: width))  \($0.1)" }
            .joined(separator: "\n")
    }

    /// "0.17 CPU-s per wall-s, demand 1.00 (with run-queue wait)": the share of a core it got, and the
    /// share it wanted, which is what classification learns from (docs/CLASSIFICATION.md).
    private var cpuRatioText: String {
        guard let wall = wallSeconds, wall > 0, let cpu = cpuSeconds else { return "-" }
        let share = "\(Profile.format(cpu / wall)) CPU-s per wall-s"
        guard let wait = waitSeconds else { return share }
        return share + ", demand \(Profile.format((cpu + wait) / wall)) (with run-queue wait)"
    }

    private static func json(_ value: JSONValue) -> String {
        (try? WireJSON.encode(value)).map { String(decoding: $0, as: UTF8.self) } ?? "?"
    }

    /// Quotes an argument for display the way a shell would need it.
    static func quoted(_ argument: String) -> String {
        let safe = argument.allSatisfy { $0.isLetter || $0.isNumber || "-_./=:,+@%".contains($0) }
        if safe && !argument.isEmpty { return argument }
        // A newline or other control character would break the table's line: bash's $'...' spells it out.
        if argument.unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7f }) {
            var escaped = ""
            for scalar in argument.unicodeScalars {
                switch scalar {
                case "\n": escaped += "\\n"
                case "\t": escaped += "\\t"
                case "\r": escaped += "\\r"
                case "\\": escaped += "\\\\"
                case "'": escaped += "\\'"
                default:
                    if scalar.value < 0x20 || scalar.value == 0x7f {
                        let hex = String(scalar.value, radix: 16)
                        escaped += "\\x" + (hex.count < 2 ? "0" + hex : hex)
                    } else {
                        escaped.unicodeScalars.append(scalar)
                    }
                }
            }
            return "$'" + escaped + "'"
        }
        return "'" + argument.replacing("'", with: "'\\''") + "'"
    }
}
