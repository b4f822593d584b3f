import Foundation

/// W2's command for every system that runs commands (jobd's exec jobs, beanstalkd's consumers,
/// task-spooler): `sha256sum` of a file sized so that one run takes about 20 ms here, deterministic CPU
/// work in a process of its own. `single` is one run's time alone (spawn to reaped, median of 21),
/// measured in this run: the ideal of W2's efficiency.
struct CPUCommand {
    let directory: String
    let bytes: Int
    private(set) var single: Double
    var argv: [String] { ["/usr/bin/sha256sum", directory + "/input"] }

    init() throws {
        directory = NSTemporaryDirectory() + "jobd-bench-w2-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let file = directory + "/input"
        let argv = ["/usr/bin/sha256sum", file]
        func median(_ runs: Int) throws -> Double { try Self.median(argv, runs) }
        // Calibrate: time the command over 16 MiB, then size the file for 20 ms.
        try writeFile(file, bytes: 16 << 20)
        let probe = try median(5)
        bytes = Int(Double(16 << 20) * 0.020 / probe)
        try writeFile(file, bytes: bytes)
        single = try median(21)
    }

    /// Times the command alone again (median of 21).
    mutating func measureAgain() throws { single = try Self.median(argv, 21) }

    private static func median(_ argv: [String], _ runs: Int) throws -> Double {
        try Spawn.latencies(runs) { try Spawn.run(argv) }[runs / 2] / 1000
    }

    func remove() { try? FileManager.default.removeItem(atPath: directory) }
}
