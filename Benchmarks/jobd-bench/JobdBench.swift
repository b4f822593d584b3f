import ArgumentParser
import Foundation
import JobdClient
import JobdVarlinkNIO
import JobdProtocol

/// `make bench`: the figures of ../shared/PEERS.md for the parts jobd has, each on a fresh daemon.
///
/// Prints one line per figure, in the peers' units. Not a test: nothing here passes or fails.
@main
struct JobdBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "jobd-bench")

    @Option(help: "Where the release jobd and jobctl are.") var binDir: String = ".build/release"
    @Option(help: "Jobs in the batch workload.") var batchJobs: Int = 10_000
    @Option(help: "Jobs in the one-at-a-time workload.") var sequentialJobs: Int = 1_000
    @Option(help: "jobctl status calls to time.") var statusCalls: Int = 200

    func run() async throws {
        print("jobd-bench: \(ProcessInfo.processInfo.activeProcessorCount) cores; each workload on a fresh daemon")
        for durability in ["normal", "full"] {
            try await batch(class: nil, durability: durability)
        }
        try await batch(class: .io, durability: "normal")
        for durability in ["normal", "full"] {
            try await sequential(durability: durability)
        }
        try await jobctlStatus()
    }

    /// (a) `batchJobs` × /bin/true in one Submit call; submit → all finished.
    private func batch(class jobClass: JobClass?, durability: String) async throws {
        let daemon = try await BenchDaemon(binDirectory: binDir, arguments: ["--durability", durability])
        defer { daemon.stop() }
        let specs = Array(repeating: JobSpec(argv: ["/bin/true"], env: [:], class: jobClass), count: batchJobs)
        let started = ContinuousClock.now
        let jobs = try await JobdConnection.withConnection(path: daemon.socket) { connection in
            let ids = try await connection.call(Submit.method, Submit.Parameters(jobs: specs), returning: Submit.Reply.self).ids
            return try await connection.call(Wait.method, Wait.Parameters(ids: ids), returning: Wait.Reply.self).jobs
        }
        let elapsed = seconds(ContinuousClock.now - started)
        let failed = jobs.filter { $0.state != .succeeded }.count
        let label = jobClass.map { "--\($0.rawValue)" } ?? "default class (cpu)"
        print(String(
            format: "(a) %d × /bin/true, one batch, %@, durability=%@: %.2f s, %.0f jobs/s%@",
            batchJobs, label, durability, elapsed, Double(batchJobs) / elapsed, failed > 0 ? " (\(failed) failed!)" : ""))
    }

    /// (b) `sequentialJobs` × /bin/true, each submitted after the previous finished: submit → completion seen.
    private func sequential(durability: String) async throws {
        let daemon = try await BenchDaemon(binDirectory: binDir, arguments: ["--durability", durability])
        defer { daemon.stop() }
        let spec = JobSpec(argv: ["/bin/true"], env: [:])
        let latencies = try await JobdConnection.withConnection(path: daemon.socket) { connection -> [Double] in
            var latencies: [Double] = []
            latencies.reserveCapacity(sequentialJobs)
            for _ in 0..<sequentialJobs {
                let started = ContinuousClock.now
                let ids = try await connection.call(Submit.method, Submit.Parameters(jobs: [spec]), returning: Submit.Reply.self).ids
                _ = try await connection.call(Wait.method, Wait.Parameters(ids: ids), returning: Wait.Reply.self)
                latencies.append(seconds(ContinuousClock.now - started) * 1000)
            }
            return latencies
        }
        let sorted = latencies.sorted()
        print(String(
            format: "(b) %d × /bin/true one after another, durability=%@: p50 %.3f ms, p99 %.3f ms (submit → completion seen)",
            sequentialJobs, durability, percentile(sorted, 0.50), percentile(sorted, 0.99)))
    }

    /// (c) A whole `jobctl status`, process start included.
    private func jobctlStatus() async throws {
        let daemon = try await BenchDaemon(binDirectory: binDir, arguments: [])
        defer { daemon.stop() }
        var times: [Double] = []
        for _ in 0..<statusCalls {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: binDir + "/jobctl")
            process.arguments = ["--socket", daemon.socket, "status"]
            process.standardOutput = FileHandle(forWritingAtPath: "/dev/null")
            let started = ContinuousClock.now
            try process.run()
            process.waitUntilExit()
            times.append(seconds(ContinuousClock.now - started) * 1000)
            if process.terminationStatus != 0 { throw BenchError("jobctl status failed") }
        }
        let sorted = times.sorted()
        print(String(
            format: "(c) jobctl status × %d, process start included: p50 %.2f ms, p99 %.2f ms",
            statusCalls, percentile(sorted, 0.50), percentile(sorted, 0.99)))
    }
}

func seconds(_ duration: Duration) -> Double {
    Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
}

func percentile(_ sorted: [Double], _ fraction: Double) -> Double {
    sorted[min(sorted.count - 1, Int(Double(sorted.count) * fraction))]
}
