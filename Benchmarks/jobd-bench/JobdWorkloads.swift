import Foundation
import JobdClient
import JobdVarlinkNIO
import JobdProtocol

/// jobd on each workload: a fresh daemon (BenchDaemon) driven through the client library, or jobctl.
extension JobdBench {
    /// A million jobs waiting (issue 9): `--cpu -- true` jobs behind one long job that holds the only
    /// worker. Reports the daemon's RSS with them queued, its start-up time with them in the database
    /// (launch to first answer) and its RSS after that, and a Status round trip. Goal: ≤ 150 MB, ≤ 3 s,
    /// ≤ 2 ms.
    func queued(_ table: ResultTable) async throws {
        let arguments = ["--cpu-workers", "1", "--shutdown-grace", "0", "--kill-grace", "0.5"]
        let first = try await BenchDaemon(binDirectory: binDir, arguments: arguments)
        let batch = 10_000
        let submitted = try await JobdConnection.withConnection(path: first.socket) { connection -> Int in
            _ = try await connection.call(
                Submit.method, Submit.Parameters(jobs: [JobSpec(argv: ["sleep", "3600"], env: [:], class: .cpu)]),
                returning: Submit.Reply.self)
            var count = 0
            while count < queuedJobs {
                let specs = Array(
                    repeating: JobSpec(argv: ["true"], env: [:], class: .cpu), count: min(batch, queuedJobs - count))
                count += try await connection.call(
                    Submit.method, Submit.Parameters(jobs: specs), returning: Submit.Reply.self
                ).ids.count
            }
            return count
        }
        let queuedRSS = first.currentRSS
        let statusMillis = try await statusRoundTrips(first.socket)
        // kill -9, as a crash: the restart finds them all stored and the busy job's attempt to recover.
        first.kill()
        let started = ContinuousClock.now
        let second = try await BenchDaemon(
            binDirectory: binDir, arguments: arguments, directory: first.directory, waitForIdleWorkers: false)
        let startup = seconds(ContinuousClock.now - started)
        defer { second.stop() }
        let restartedStatusMillis = try await statusRoundTrips(second.socket)
        let restartedRSS = second.currentRSS
        print(String(
            format: "queued %d × --cpu -- true behind one busy worker: daemon RSS %.1f MB queued, Status p50 %.3f ms; restart after kill -9 with them stored: answers in %.2f s, RSS %.1f MB after (peak %.1f MB), Status p50 %.3f ms",
            submitted, Double(queuedRSS) / 1e6, statusMillis, startup, Double(restartedRSS) / 1e6,
            Double(second.peakRSS) / 1e6, restartedStatusMillis))
        table.set(.queuedRSS, .jobd, Double(queuedRSS) / 1e6)
        table.set(.restartSeconds, .jobd, startup)
        table.set(.restartRSS, .jobd, Double(restartedRSS) / 1e6)
    }

    /// The median of 200 Status round trips on one connection, in milliseconds.
    func statusRoundTrips(_ socket: String) async throws -> Double {
        try await JobdConnection.withConnection(path: socket) { connection in
            var times: [Double] = []
            for _ in 0..<200 {
                let started = ContinuousClock.now
                _ = try await connection.call(Status.method, Status.Parameters(), returning: Status.Reply.self)
                times.append(seconds(ContinuousClock.now - started) * 1000)
            }
            return times.sorted()[times.count / 2]
        }
    }

    func daemon(_ arguments: [String] = []) async throws -> BenchDaemon {
        try await BenchDaemon(binDirectory: binDir, arguments: ["--cpu-workers", "2"] + arguments)
    }

    /// Submits `specs` in one call and waits for all; returns the jobs and the seconds from submit to the end.
    func submitAndWait(_ specs: [JobSpec], on daemon: BenchDaemon) async throws -> ([Job], Double) {
        let started = ContinuousClock.now
        let jobs = try await JobdConnection.withConnection(path: daemon.socket) { connection in
            let ids = try await connection.call(Submit.method, Submit.Parameters(jobs: specs), returning: Submit.Reply.self).ids
            return try await connection.call(Wait.method, Wait.Parameters(ids: ids), returning: Wait.Reply.self).jobs
        }
        return (jobs, seconds(ContinuousClock.now - started))
    }

    func failures(_ jobs: [Job]) -> String {
        let failed = jobs.filter { $0.state != .succeeded }
        return failed.isEmpty ? "" : " (\(failed.count) failed: \(failed[0].error ?? "?"))"
    }

    /// W1: `noopJobs` no-op jobs in one Submit, durable; submit → all finished (one Wait on every id). Jobs/s.
    @discardableResult
    func noopBatch(class jobClass: JobClass) async throws -> Double {
        let daemon = try await daemon()
        defer { daemon.stop() }
        let (jobs, elapsed) = try await submitAndWait(
            Array(repeating: JobSpec(kind: "noop", class: jobClass), count: noopJobs), on: daemon)
        let path = jobClass == .cpu ? "--cpu: through the worker pool" : "--io: in the daemon"
        print(String(
            format: "W1 %d × noop, one batch, %@: %.2f s, %.0f jobs/s%@",
            noopJobs, path, elapsed, Double(noopJobs) / elapsed, failures(jobs)))
        return Double(noopJobs) / elapsed
    }

    /// W2 as a command: `hashJobs` × the CPU command as exec jobs in the CPU pool (2 workers); the makespan.
    func commands(_ command: CPUCommand) async throws -> Double {
        let daemon = try await daemon()
        defer { daemon.stop() }
        let (jobs, elapsed) = try await submitAndWait(
            Array(repeating: JobSpec(argv: command.argv, env: [:], class: .cpu), count: hashJobs), on: daemon)
        if !failures(jobs).isEmpty { print("W2 command on jobd:\(failures(jobs))") }
        return elapsed
    }

    /// W2 in-process: `hashJobs` sha256 handler jobs of a file sized so one takes about 20 ms, on 2
    /// workers. Efficiency against the handler's own compute time.
    func hashes() async throws -> Double {
        let daemon = try await daemon()
        defer { daemon.stop() }
        let file = daemon.directory + "/hash-input"
        // Calibrate: time one job over 16 MiB, then size the file for 20 ms.
        try writeFile(file, bytes: 16 << 20)
        let probe = JobSpec(kind: "sha256", payload: .object(["path": .string(file)]))
        var (jobs, _) = try await submitAndWait(Array(repeating: probe, count: 5), on: daemon)
        let perByte = (jobs.map { $0.wallSeconds ?? 0 }.min() ?? 0.01) / Double(16 << 20)
        let size = Int(0.020 / perByte)
        try writeFile(file, bytes: size)
        // The single-job time: the computation alone (the job's wall time in its worker), median of jobs
        // run one at a time so nothing else shares the cores. Everything else jobd does counts against it.
        var singles: [Double] = []
        for _ in 0..<21 {
            let (single, _) = try await submitAndWait([probe], on: daemon)
            singles.append(single[0].wallSeconds ?? 0)
        }
        let single = singles.sorted()[singles.count / 2]
        let elapsed: Double
        (jobs, elapsed) = try await submitAndWait(Array(repeating: probe, count: hashJobs), on: daemon)
        let inWorker = jobs.compactMap(\.wallSeconds).reduce(0, +)
        print(String(
            format: "W2 %d × sha256 of %.1f MiB on 2 workers: makespan %.3f s; one job computes in %.1f ms, so the ideal is %.3f s: efficiency %.3f (against the batch's own compute times, %.3f)%@",
            hashJobs, Double(size) / Double(1 << 20), elapsed, single * 1000, Double(hashJobs) * single / 2,
            Double(hashJobs) * single / 2 / elapsed, inWorker / 2 / elapsed, failures(jobs)))
        return Double(hashJobs) * single / 2 / elapsed
    }

    /// W3: `sleepJobs` jobs that each wait 1 s (the `sleep` handler, I/O class): makespan, daemon peak
    /// RSS, and that plus its workers' peaks.
    func sleepers(_ table: ResultTable) async throws {
        let daemon = try await daemon(["--io-concurrency", "10000"])
        defer { daemon.stop() }
        let (jobs, elapsed) = try await submitAndWait(
            Array(repeating: JobSpec(kind: "sleep", payload: .object(["seconds": .int(1)])), count: sleepJobs), on: daemon)
        let (rss, withWorkers) = (daemon.peakRSS, daemon.peakRSSWithWorkers)
        table.set(.w3Makespan, .jobd, elapsed)
        table.set(.w3DaemonRSS, .jobd, Double(rss) / 1e6)
        table.set(.w3TotalRSS, .jobd, Double(withWorkers) / 1e6)
        print(String(
            format: "W3 %d × sleep 1 s, durable: makespan %.3f s, daemon peak RSS %.1f MB, with its workers' peaks %.1f MB%@",
            sleepJobs, elapsed, Double(rss) / 1e6, Double(withWorkers) / 1e6, failures(jobs)))
    }

    /// W4: `execJobs` × /bin/true as CPU jobs (2 at a time, in the workers): makespan, and failures.
    func execs() async throws -> (Double, String) {
        let daemon = try await daemon()
        defer { daemon.stop() }
        let (jobs, elapsed) = try await submitAndWait(
            Array(repeating: JobSpec(argv: ["/bin/true"], env: [:], class: .cpu), count: execJobs), on: daemon)
        return (elapsed, failures(jobs))
    }

    /// W5: `sequentialJobs` no-op jobs, each submitted after the previous finished: submit → completion seen.
    /// Returns the latencies in ms, sorted.
    func sequential(class jobClass: JobClass, durability: String) async throws -> [Double] {
        let daemon = try await daemon(["--durability", durability])
        defer { daemon.stop() }
        let spec = JobSpec(kind: "noop", class: jobClass)
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
            format: "W5 %d × noop one after another, --%@, durability=%@: p50 %.3f ms, p99 %.3f ms (submit → completion seen)",
            sequentialJobs, jobClass.rawValue, durability, percentile(sorted, 0.50), percentile(sorted, 0.99)))
        return sorted
    }

    /// A whole `jobctl status`, process start included; p50 in ms.
    func jobctlStatus() async throws -> Double {
        let daemon = try await daemon()
        defer { daemon.stop() }
        let sorted = try Spawn.latencies(statusCalls) {
            if try Spawn.run([binDir + "/jobctl", "--socket", daemon.socket, "status"]).status != 0 {
                throw BenchError("jobctl status failed")
            }
        }
        print(String(
            format: "jobctl status × %d, process start included: p50 %.2f ms, p99 %.2f ms",
            statusCalls, percentile(sorted, 0.50), percentile(sorted, 0.99)))
        return percentile(sorted, 0.50)
    }

    /// `jobctl submit --wait -- /bin/true`, one after another, process start included (as task-spooler's
    /// `tsp CMD; tsp -w ID`).
    func jobctlSubmitWait(_ table: ResultTable) async throws {
        let daemon = try await daemon()
        defer { daemon.stop() }
        let sorted = try Spawn.latencies(submitWaitCalls) {
            let status = try Spawn.run([binDir + "/jobctl", "submit", "--socket", daemon.socket, "--wait", "--", "/bin/true"]).status
            if status != 0 { throw BenchError("jobctl submit --wait exited with \(status)") }
        }
        table.set(.submitWaitP50, .jobd, percentile(sorted, 0.50))
        table.set(.submitWaitP99, .jobd, percentile(sorted, 0.99))
        print(String(
            format: "jobctl submit --wait -- /bin/true × %d, one after another: p50 %.2f ms, p99 %.2f ms",
            submitWaitCalls, percentile(sorted, 0.50), percentile(sorted, 0.99)))
    }
}
