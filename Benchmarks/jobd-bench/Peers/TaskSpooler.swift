import Foundation

/// task-spooler (`tsp`) on PEERS.md's command workloads, each on its own server: TS_SOCKET and TMPDIR
/// (where it writes each job's output file) point into a temp folder, `tsp -S N` starts that server with
/// N slots, and `tsp -K` kills it after. Every job is one `tsp CMD` process started by this one, one
/// after another, as a shell script would; "all finished" is `tsp -w` on the last job, then `tsp -l` and
/// `tsp -w` on any job still listed as queued or running.
struct TaskSpooler {
    let binary: String
    let table: ResultTable

    /// The binary, if installed (Debian installs it as `tsp`; upstream, and some distributions, `ts`).
    static func find() -> String? {
        if let tsp = Spawn.which("tsp") { return tsp }
        // `ts` alone is ambiguous (moreutils has one): only if it says it is task-spooler.
        guard let ts = Spawn.which("ts"), let output = try? Spawn.run([ts, "-V"], captureOutput: true).output,
            output.contains("Task Spooler")
        else { return nil }
        return ts
    }

    var version: String {
        let output = (try? Spawn.run([binary, "-V"], captureOutput: true).output) ?? ""
        let version = output.split(separator: "\n").first.flatMap { $0.split(separator: " ").first { $0.hasPrefix("v") } }
        return version.map { "task-spooler \($0.dropFirst())" } ?? "task-spooler"
    }

    /// A server for one workload.
    private final class Server {
        let directory = NSTemporaryDirectory() + "jobd-bench-tsp-\(UUID().uuidString.prefix(8))"
        let environment: [String: String]
        let binary: String
        var socket: String { directory + "/ts.sock" }

        init(binary: String, slots: Int) throws {
            self.binary = binary
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            var environment = ProcessInfo.processInfo.environment
            environment["TS_SOCKET"] = directory + "/ts.sock"
            environment["TMPDIR"] = directory
            self.environment = environment
            try tsp(["-S", String(slots)])
        }

        @discardableResult
        func tsp(_ arguments: [String]) throws -> String {
            let (status, output) = try Spawn.run([binary] + arguments, environment: environment, captureOutput: true)
            guard status == 0 else { throw BenchError("tsp \(arguments.joined(separator: " ")) exited with \(status)") }
            return output
        }

        /// Queues `command`; its id.
        func enqueue(_ command: [String]) throws -> Int {
            let output = try tsp(command)
            guard let id = Int(output.trimmingCharacters(in: .whitespacesAndNewlines)) else {
                throw BenchError("tsp printed \(output), not an id")
            }
            return id
        }

        /// Waits until no job is queued or running.
        func waitForAll(last: Int) throws {
            try tsp(["-w", String(last)])
            while true {
                let pending = try tsp(["-l"]).split(separator: "\n").dropFirst().compactMap { line -> String? in
                    let fields = line.split(separator: " ")
                    return fields.count > 1 && fields[1] != "finished" && fields[1] != "skipped" ? String(fields[0]) : nil
                }
                if pending.isEmpty { return }
                for id in pending { try tsp(["-w", id]) }
            }
        }

        func stop() {
            _ = try? tsp(["-K"])
            try? FileManager.default.removeItem(atPath: directory)
        }
    }

    private func withServer<T>(slots: Int, _ body: (Server) throws -> T) throws -> T {
        let server = try Server(binary: binary, slots: slots)
        defer { server.stop() }
        return try body(server)
    }

    /// W2 and W4: `count` × `command` with `tsp -S 2`: makespan from the first `tsp CMD` to all finished.
    func commands(_ count: Int, _ command: [String]) throws -> Double {
        try withServer(slots: 2) { server in
            let started = ContinuousClock.now
            var last = 0
            for _ in 0..<count { last = try server.enqueue(command) }
            try server.waitForAll(last: last)
            return seconds(ContinuousClock.now - started)
        }
    }

    /// W3: `count` × `sleep 1` with `tsp -S count`: makespan, and the peak of the summed RSS of every
    /// process of that server (the server, one waiting `tsp` client per job, the `sleep`s), sampled every
    /// 250 ms; the server's own peak (VmHWM) apart.
    func sleepers(_ count: Int) throws {
        let (elapsed, serverRSS, totalRSS) = try withServer(slots: count) { server -> (Double, Int64, Int64) in
            let entry = "TS_SOCKET=" + server.socket
            // Right after `tsp -S`, the server is the only process with this TS_SOCKET.
            let serverPID = ProcStats.pids().first { ProcStats.environment(of: $0, contains: entry) }
            let sampler = RSSSampler { ProcStats.environment(of: $0, contains: entry) }
            let started = ContinuousClock.now
            var last = 0
            do {
                for _ in 0..<count { last = try server.enqueue(["sleep", "1"]) }
                try server.waitForAll(last: last)
            } catch {
                _ = sampler.stop()
                throw error
            }
            let elapsed = seconds(ContinuousClock.now - started)
            return (elapsed, serverPID.map { ProcStats.statusField($0, "VmHWM:") } ?? 0, sampler.stop())
        }
        table.set(.w3Makespan, .taskSpooler, elapsed)
        table.set(.w3DaemonRSS, .taskSpooler, Double(serverRSS) / 1e6)
        table.set(.w3TotalRSS, .taskSpooler, Double(totalRSS) / 1e6)
        print(String(
            format: "task-spooler W3 %d × tsp sleep 1, tsp -S %d: makespan %.2f s, server peak RSS %.1f MB, all its processes (summed RSS, sampled) %.1f MB",
            count, count, elapsed, Double(serverRSS) / 1e6, Double(totalRSS) / 1e6))
    }

    /// `tsp /bin/true; tsp -w ID`, `count` times one after another: the CLI submit-and-wait latency.
    func submitAndWait(_ count: Int) throws {
        let sorted = try withServer(slots: 2) { server in
            try Spawn.latencies(count) {
                let id = try server.enqueue(["/bin/true"])
                try server.tsp(["-w", String(id)])
            }
        }
        table.set(.submitWaitP50, .taskSpooler, percentile(sorted, 0.50))
        table.set(.submitWaitP99, .taskSpooler, percentile(sorted, 0.99))
        print(String(
            format: "task-spooler `tsp /bin/true; tsp -w ID` × %d, one after another: p50 %.2f ms, p99 %.2f ms",
            count, percentile(sorted, 0.50), percentile(sorted, 0.99)))
    }

    /// `tsp -l`, `count` times, on a server with 10 finished jobs: task-spooler's status call.
    func list(_ count: Int) throws {
        let sorted = try withServer(slots: 2) { server -> [Double] in
            var last = 0
            for _ in 0..<10 { last = try server.enqueue(["/bin/true"]) }
            try server.waitForAll(last: last)
            return try Spawn.latencies(count) { try server.tsp(["-l"]) }
        }
        table.set(.statusP50, .taskSpooler, percentile(sorted, 0.50))
        print(String(format: "task-spooler `tsp -l` × %d: p50 %.2f ms, p99 %.2f ms", count, percentile(sorted, 0.50), percentile(sorted, 0.99)))
    }
}
