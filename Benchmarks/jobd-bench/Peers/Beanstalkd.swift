import Foundation

/// beanstalkd on PEERS.md's workloads, each on a fresh server (see BeanstalkServer). No-op jobs (W1, W3,
/// W5): producer and consumer are threads of this process, each with its own connection. Exec jobs (W2,
/// W4): 2 consumer processes (this binary again, `--beanstalkd-consumer`), each of which reserves a job,
/// posix_spawns the command, waits for it and deletes the job.
struct Beanstalkd {
    let binary: String
    let table: ResultTable

    /// The binary, if installed.
    static func find() -> String? { Spawn.which("beanstalkd") }

    var version: String {
        let output = (try? Spawn.run([binary, "-v"], captureOutput: true).output) ?? ""
        return output.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty
            ? "beanstalkd" : output.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    private func withServer<T>(_ body: (BeanstalkServer) throws -> T) throws -> T {
        let server = try BeanstalkServer(binary: binary)
        defer { server.stop() }
        return try body(server)
    }

    /// W1: `count` puts pipelined from one connection (1000 per write), while a consumer on another
    /// reserves and deletes them (each delete pipelined with the next reserve); jobs/s from the first put
    /// to the last delete acknowledged.
    func noops(_ count: Int) throws {
        let elapsed = try withServer { server in
            try timedPutsAndDrain(server, count: count, delay: 0, tube: "w1")
        }
        table.set(.w1JobsPerSecond, .beanstalkd, Double(count) / elapsed)
        print(String(format: "beanstalkd W1 %d puts pipelined, consumer reserve+delete: %.2f s, %.0f jobs/s", count, elapsed, Double(count) / elapsed))
    }

    /// W3: `count` puts with delay 1 s (the server holds the wait), drained as in W1: makespan from the
    /// first put to the last delete; RSS of the server (the consumer holds nothing).
    func delayed(_ count: Int) throws {
        let (elapsed, rss) = try withServer { server in
            (try timedPutsAndDrain(server, count: count, delay: 1, tube: "w3"), server.peakRSS)
        }
        table.set(.w3Makespan, .beanstalkd, elapsed)
        table.set(.w3DaemonRSS, .beanstalkd, Double(rss) / 1e6)
        table.set(.w3TotalRSS, .beanstalkd, .text("= server"))
        print(String(format: "beanstalkd W3 %d puts with delay=1, reserve+delete all: makespan %.3f s, server peak RSS %.1f MB", count, elapsed, Double(rss) / 1e6))
    }

    private func timedPutsAndDrain(_ server: BeanstalkServer, count: Int, delay: Int, tube: String) throws -> Double {
        let producer = try BeanstalkConnection(port: server.port)
        try producer.use(tube)
        let consumer = try BeanstalkConnection(port: server.port)
        try consumer.watch(tube)
        try consumer.ignore("default")
        let started = ContinuousClock.now
        try onThreads([
            {
                var sent = 0
                while sent < count {
                    let batch = min(1000, count - sent)
                    try producer.send(String(repeating: BeanstalkConnection.put("x", delay: delay), count: batch))
                    for _ in 0..<batch { _ = try producer.readInserted() }
                    sent += batch
                }
            },
            {
                try consumer.send("reserve\r\n")
                for index in 0..<count {
                    let (id, _) = try consumer.readReserved()
                    try consumer.send(index == count - 1 ? "delete \(id)\r\n" : "delete \(id)\r\nreserve\r\n")
                    try consumer.readDeleted()
                }
            },
        ])
        return seconds(ContinuousClock.now - started)
    }

    /// W2 and W4: `count` jobs whose consumer runs `command`, 2 consumer processes; makespan from the first
    /// put (both consumers connected and watching) to both consumers gone. Each consumer stops at a
    /// low-priority "stop" job put after the work.
    func commands(_ count: Int, _ command: [String]) throws -> Double {
        try withServer { server in
            let producer = try BeanstalkConnection(port: server.port)
            try producer.use(Self.execTube)
            let consumers = try (0..<2).map { _ in
                try Spawn.start(
                    ["/proc/self/exe", "--beanstalkd-consumer", String(server.port)]
                        + command.flatMap { ["--consumer-argv", $0] })
            }
            let deadline = ContinuousClock.now + .seconds(30)
            while try producer.watching(Self.execTube) < consumers.count {
                guard ContinuousClock.now < deadline else {
                    for pid in consumers { kill(pid, SIGKILL); Spawn.wait(pid) }
                    throw BenchError("the beanstalkd consumers did not connect")
                }
                usleep(1_000)
            }
            let started = ContinuousClock.now
            try producer.send(
                String(repeating: BeanstalkConnection.put("run"), count: count)
                    + String(repeating: BeanstalkConnection.put("stop", pri: Int(UInt32.max)), count: consumers.count))
            for _ in 0..<(count + consumers.count) { _ = try producer.readInserted() }
            let statuses = consumers.map { Spawn.wait($0) }
            let elapsed = seconds(ContinuousClock.now - started)
            if let failed = statuses.first(where: { $0 != 0 }) { throw BenchError("a beanstalkd consumer exited with \(failed)") }
            return elapsed
        }
    }

    static let execTube = "exec"

    /// One consumer process of W2/W4 (`jobd-bench --beanstalkd-consumer PORT --consumer-argv ...`): reserve
    /// a job from the exec tube, run `command` (exit status 0 expected), delete the job; until "stop".
    static func consume(port: UInt16, command: [String]) throws {
        let connection = try BeanstalkConnection(port: port)
        try connection.watch(execTube)
        try connection.ignore("default")
        while true {
            let (id, body) = try connection.reserve()
            if body == "run", Spawn.wait(try Spawn.start(command)) != 0 { throw BenchError("\(command[0]) failed") }
            try connection.delete(id)
            if body == "stop" { return }
        }
    }

    /// W5: one job at a time. The producer puts on `jobs` and watches `done`; the consumer (another
    /// connection, another thread) reserves, deletes, and puts the job's id on `done` (delete and put in
    /// one write). Completion seen = the producer's reserve on `done` returns; deleting that reply is
    /// not timed.
    func sequential(_ count: Int) throws {
        let sorted = try withServer { server -> [Double] in
            let producer = try BeanstalkConnection(port: server.port)
            try producer.use("jobs")
            try producer.watch("done")
            try producer.ignore("default")
            let consumer = try BeanstalkConnection(port: server.port)
            try consumer.use("done")
            try consumer.watch("jobs")
            try consumer.ignore("default")
            let latencies = LatencyBox()
            try onThreads([
                {
                    for _ in 0..<count {
                        let (id, _) = try consumer.reserve()
                        try consumer.send("delete \(id)\r\n" + BeanstalkConnection.put(String(id)))
                        try consumer.readDeleted()
                        _ = try consumer.readInserted()
                    }
                },
                {
                    for _ in 0..<count {
                        let started = ContinuousClock.now
                        let id = try producer.put("x")
                        let (reply, body) = try producer.reserve()
                        latencies.append(seconds(ContinuousClock.now - started) * 1000)
                        guard body == String(id) else { throw BenchError("beanstalkd W5: reply for \(body), not \(id)") }
                        try producer.delete(reply)
                    }
                },
            ])
            return latencies.sorted
        }
        table.set(.w5P50, .beanstalkd, percentile(sorted, 0.50))
        table.set(.w5P99, .beanstalkd, percentile(sorted, 0.99))
        print(String(format: "beanstalkd W5 %d × put → consumer reserve+delete+reply → producer reserves reply: p50 %.3f ms, p99 %.3f ms", count, percentile(sorted, 0.50), percentile(sorted, 0.99)))
    }
}

final class LatencyBox: @unchecked Sendable {
    private let lock = NSLock()
    private var values: [Double] = []
    func append(_ value: Double) { lock.withLock { values.append(value) } }
    var sorted: [Double] { lock.withLock { values.sorted() } }
}
