import Foundation

/// A file of `bytes` pseudo-random bytes (contents do not matter to SHA-256's speed; size does).
func writeFile(_ path: String, bytes: Int) throws {
    var data = Data(count: bytes)
    data.withUnsafeMutableBytes { buffer in
        var state: UInt64 = 0x9E37_79B9_7F4A_7C15
        for index in 0..<buffer.count {
            state = state &* 6_364_136_223_846_793_005 &+ 1
            buffer[index] = UInt8(truncatingIfNeeded: state >> 56)
        }
    }
    try data.write(to: URL(fileURLWithPath: path))
}

/// The 1-minute load average, as /proc/loadavg gives it.
func loadAverage() -> String {
    ((try? String(contentsOfFile: "/proc/loadavg", encoding: .utf8)) ?? "?").split(separator: " ").first.map(String.init) ?? "?"
}

func seconds(_ duration: Duration) -> Double {
    Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
}

func percentile(_ sorted: [Double], _ fraction: Double) -> Double {
    sorted[min(sorted.count - 1, Int(Double(sorted.count) * fraction))]
}
