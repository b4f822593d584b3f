/// Durations as people type them: `500ms`, `30s`, `10m`, `2h`, `1d`, or a bare number of seconds.
public enum DurationText {
    /// Whether a flag takes zero (`--older-than 0s`, `--backoff-delay 0`) or only a positive duration
    /// (`--timeout`, `--every`).
    public enum Zero: Sendable { case refused, allowed }

    /// Seconds, or nil when the text is not a duration: positive, or also zero when `zero` is `.allowed`,
    /// in any unit (`0`, `0s` and `0m` alike).
    public static func seconds(_ text: String, zero: Zero = .refused) -> Double? {
        let units: [(suffix: String, scale: Double)] = [("ms", 0.001), ("s", 1), ("m", 60), ("h", 3600), ("d", 86_400)]
        let (number, scale) = units.first { text.hasSuffix($0.suffix) }
            .map { (text.dropLast($0.suffix.count), $0.scale) } ?? (Substring(text), 1)
        // Double("") is nil, so a bare unit ("s") is refused; so are "-1s", "nan" and "inf".
        guard let value = Double(number), value.isFinite, (value * scale).isFinite else { return nil }
        switch zero {
        case .refused where value > 0, .allowed where value >= 0: return value * scale
        default: return nil
        }
    }

    /// `1.2s`, `3m04s`, `2h05m`: short, for tables.
    public static func format(seconds: Double) -> String {
        if seconds < 10 { return String(format3(seconds)) + "s" }
        let whole = Int.clamping(seconds)  // from a reply: never trap on a value out of range
        if whole < 60 { return "\(whole)s" }
        if whole < 3600 { return "\(whole / 60)m\(pad2(whole % 60))s" }
        return "\(whole / 3600)h\(pad2(whole / 60 % 60))m"
    }

    private static func format3(_ value: Double) -> String {
        let hundredths = Int.clamping(value * 100)
        return "\(hundredths / 100).\(pad2(hundredths % 100))"
    }

    private static func pad2(_ value: Int) -> String { value < 10 ? "0\(value)" : "\(value)" }
}

extension Duration {
    /// The duration in seconds, as a Double (for outcomes, ratios and messages).
    public var inSeconds: Double {
        Double(components.seconds) + Double(components.attoseconds) / 1e18
    }
}
