/// Durations as people type them: `500ms`, `30s`, `10m`, `2h`, `1d`, or a bare number of seconds.
public enum DurationText {
    /// Seconds, or nil when the text is not a positive duration.
    public static func seconds(_ text: String) -> Double? {
        let units: [(suffix: String, scale: Double)] = [("ms", 0.001), ("s", 1), ("m", 60), ("h", 3600), ("d", 86_400)]
        for unit in units where text.hasSuffix(unit.suffix) {
            guard let value = Double(text.dropLast(unit.suffix.count)), value > 0, value.isFinite,
                (value * unit.scale).isFinite
            else { return nil }
            return value * unit.scale
        }
        guard let value = Double(text), value > 0, value.isFinite else { return nil }
        return value
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
