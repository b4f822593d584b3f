import Foundation

/// W2's command for every system that runs commands (jobd's exec jobs, beanstalkd's consumers,
/// task-spooler): `sha256sum` of a file sized so that one run takes about 20 ms here, deterministic CPU
/// work in a process of its own. `single` is one run's time alone (spawn to reaped), measured in this run:
/// the ideal of W2's efficiency. The fastest of 21 runs, not their median: with other work on the machine
/// a median moves by 2× from one minute to the next, the fastest run much less.
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
        // Calibrate: time the command over 16 MiB, then size the file for 20 ms.
        try writeFile(file, bytes: 16 << 20)
        let probe = try Self.fastest(argv, 7)
        bytes = Int(Double(16 << 20) * 0.020 / probe)
        try writeFile(file, bytes: bytes)
        single = try Self.fastest(argv, 21)
    }

    /// Times the command alone again (fastest of 21).
    mutating func measureAgain() throws { single = try Self.fastest(argv, 21) }

    private static func fastest(_ argv: [String], _ runs: Int) throws -> Double {
        try Spawn.latencies(runs) { try Spawn.run(argv) }[0] / 1000
    }

    func remove() { try? FileManager.default.removeItem(atPath: directory) }
}
