import ArgumentParser
import Foundation
import JobdClient
import JobdVarlinkNIO
import JobdProtocol

/// `make bench`: the workloads of ../shared/PEERS.md (W1–W5), the CLI's submit-and-wait and status times,
/// each on a fresh daemon with 2 CPU workers; beside jobd, the same workloads on beanstalkd and
/// task-spooler (Peers/), and at the end one markdown table of all three (docs/BENCHMARKS.md).
///
/// Prints one line per figure as it goes, in the peers' units. Not a test: nothing here passes or fails.
@main
struct JobdBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "jobd-bench")

    @Option(help: "Where the release jobd and jobctl are.") var binDir: String = ".build/release"
    @Option(help: "W1: no-op jobs in one batch.") var noopJobs: Int = 20_000
    @Option(help: "W2: jobs of the ~20 ms CPU computation.") var hashJobs: Int = 200
    @Option(help: "W3: jobs that each wait 1 s.") var sleepJobs: Int = 5_000
    @Option(help: "W4: /bin/true jobs.") var execJobs: Int = 1_000
    @Option(help: "W5: jobs one after another.") var sequentialJobs: Int = 1_000
    @Option(help: "CLI submit-and-wait calls to time (jobctl submit --wait; tsp CMD; tsp -w ID).") var submitWaitCalls: Int = 200
    @Option(help: "jobctl status calls to time.") var statusCalls: Int = 200
    @Option(help: "Mixed workload: CPU-heavy commands.") var mixedCPU: Int = 40
    @Option(help: "Mixed workload: sleep-heavy commands.") var mixedSleep: Int = 400
    @Option(help: "Queued: jobs held in the queue behind one busy worker.") var queuedJobs: Int = 1_000_000
    @Option(
        help: """
            Run only these, comma-separated: workloads (w1 … w5, submit-wait, status, mixed, queued) and/or             systems (jobd, peers = beanstalkd and tsp, beanstalkd, tsp). No workload named: all; no system             named: all. E.g. --only peers, --only w4,jobd,beanstalkd.
            """)
    var only: String?
    @Flag(help: "jobd alone: no beanstalkd or task-spooler runs (their columns say \"not run\").") var noPeers = false

    private static let workloads: Set<String> = ["w1", "w2", "w3", "w4", "w5", "submit-wait", "status", "mixed", "queued"]
    private static let systems: Set<String> = ["jobd", "peers", "beanstalkd", "tsp"]

    func validate() throws {
        let unknown = selected.subtracting(Self.workloads).subtracting(Self.systems)
        if !unknown.isEmpty { throw ValidationError("--only: unknown \(unknown.sorted().joined(separator: ", "))") }
    }

    private var selected: Set<String> { Set((only ?? "").split(separator: ",").map(String.init)) }

    func run() async throws {
        let names = selected
        let workloadNames = names.intersection(Self.workloads)
        let systemNames = names.intersection(Self.systems)
        func wants(_ workload: String) -> Bool { workloadNames.isEmpty || workloadNames.contains(workload) }
        func runs(_ system: String) -> Bool {
            if system != "jobd" && noPeers { return false }
            return systemNames.isEmpty || systemNames.contains(system) || (system != "jobd" && systemNames.contains("peers"))
        }
        lineBufferStandardOutput()
        let table = ResultTable()
        let startLoad = loadAverage()
        print("jobd-bench: \(ProcessInfo.processInfo.activeProcessorCount) cores, 2 CPU workers; each workload on a fresh daemon (and a fresh peer server)")

        // The exec limit of this machine, now: 2-way exec jobs cannot pass 2 ÷ one spawn's time.
        let oneExec = try Spawn.execTime()
        let execLimit = 2 / oneExec
        table.note(String(format: "Exec limit in this run: one `/bin/true` posix_spawn+waitpid takes %.3f ms (median of 300), so 2-way exec jobs cannot pass %.0f jobs/s.", oneExec * 1000, execLimit))
        print(String(format: "one /bin/true spawn: %.3f ms, so the 2-way exec limit is %.0f jobs/s", oneExec * 1000, execLimit))

        // The peers, where installed and asked for.
        var beanstalkd: Beanstalkd?
        var taskSpooler: TaskSpooler?
        if runs("beanstalkd") {
            if let binary = Beanstalkd.find() {
                beanstalkd = Beanstalkd(binary: binary, table: table)
                table.versions[.beanstalkd] = beanstalkd!.version
            } else {
                table.notInstalled(.beanstalkd)
                print("beanstalkd: not installed (make bench-deps installs it); its column says so")
            }
        }
        if runs("tsp") {
            if let binary = TaskSpooler.find() {
                taskSpooler = TaskSpooler(binary: binary, table: table)
                table.versions[.taskSpooler] = taskSpooler!.version
            } else {
                table.notInstalled(.taskSpooler)
                print("task-spooler (tsp): not installed (make bench-deps installs it); its column says so")
            }
        }
        // A peer's failure is printed and left out of the table, never the end of the run.
        func peer(_ name: String, _ figures: [Figure], _ system: BenchSystem, _ body: () throws -> Void) {
            do { try body() } catch {
                print("\(name): \(error)")
                table.set(figures, system, text: "failed")
            }
        }

        if wants("w1") {
            if runs("jobd") {
                try await noopBatch(class: .cpu)
                table.set(.w1JobsPerSecond, .jobd, try await noopBatch(class: .io))
            }
            peer("beanstalkd W1", [.w1JobsPerSecond], .beanstalkd) { try beanstalkd?.noops(noopJobs) }
            if taskSpooler != nil { table.set(.w1JobsPerSecond, .taskSpooler, .text("— (commands only)")) }
        }
        if wants("w2") {
            var command = try CPUCommand()
            defer { command.remove() }
            print(String(format: "W2 command: %@ (%.1f MiB), one run alone takes %.1f ms (fastest of 21)", command.argv.joined(separator: " "), Double(command.bytes) / Double(1 << 20), command.single * 1000))
            var makespans: [(BenchSystem, String, Double)] = []
            if runs("jobd") {
                makespans.append((.jobd, "jobd, --cpu exec jobs on 2 workers", try await commands(command)))
                table.set(.w2HandlerEfficiency, .jobd, try await hashes())
            }
            peer("beanstalkd W2", [.w2CommandEfficiency], .beanstalkd) {
                guard let beanstalkd else { return }
                makespans.append((.beanstalkd, "beanstalkd, 2 consumers exec'ing it", try beanstalkd.commands(hashJobs, command.argv)))
            }
            peer("task-spooler W2", [.w2CommandEfficiency], .taskSpooler) {
                guard let taskSpooler else { return }
                makespans.append((.taskSpooler, "task-spooler, tsp -S 2", try taskSpooler.commands(hashJobs, command.argv)))
            }
            // The command alone once more after the runs: the ideal takes the faster (other load on the
            // machine only makes it slower, and would flatter every efficiency alike).
            let before = command.single
            try command.measureAgain()
            print(String(format: "W2 command alone after the runs: %.1f ms; the ideal uses %.1f ms", command.single * 1000, min(before, command.single) * 1000))
            let ideal = Double(hashJobs) * min(before, command.single) / 2
            for (system, how, makespan) in makespans {
                table.set(.w2CommandEfficiency, system, ideal / makespan)
                print(String(format: "W2 %d × the command, %@: makespan %.3f s, ideal %.3f s: efficiency %.3f", hashJobs, how, makespan, ideal, ideal / makespan))
                if system != .jobd { table.set(.w2HandlerEfficiency, system, .text("—")) }
            }
            table.note(String(
                format: "W2's command: `sha256sum` of a %.1f MiB file; alone it took %.1f ms before the runs and %.1f ms after (fastest of 21 each); the ideal is %d × the faster ÷ 2 = %.3f s.",
                Double(command.bytes) / Double(1 << 20), before * 1000, command.single * 1000, hashJobs, ideal))
        }
        if wants("w3") {
            if runs("jobd") { try await sleepers(table) }
            peer("beanstalkd W3", [.w3Makespan, .w3DaemonRSS], .beanstalkd) { try beanstalkd?.delayed(sleepJobs) }
            peer("task-spooler W3", [.w3Makespan, .w3DaemonRSS, .w3TotalRSS], .taskSpooler) { try taskSpooler?.sleepers(sleepJobs) }
        }
        if wants("w4") {
            func record(_ system: BenchSystem, _ makespan: Double) -> Double {
                let rate = Double(execJobs) / makespan
                table.set(.w4JobsPerSecond, system, rate)
                table.set(.w4PercentOfLimit, system, rate / execLimit * 100)
                return rate
            }
            if runs("jobd") {
                let (makespan, failed) = try await execs()
                let rate = record(.jobd, makespan)
                print(String(format: "W4 %d × /bin/true, --cpu: %.0f jobs/s, %.0f%% of the exec limit (%.0f/s)%@", execJobs, rate, rate / execLimit * 100, execLimit, failed))
            }
            peer("beanstalkd W4", [.w4JobsPerSecond, .w4PercentOfLimit], .beanstalkd) {
                guard let beanstalkd else { return }
                let rate = record(.beanstalkd, try beanstalkd.commands(execJobs, ["/bin/true"]))
                print(String(format: "beanstalkd W4 %d × /bin/true, 2 consumers exec'ing it: %.0f jobs/s, %.0f%% of the exec limit", execJobs, rate, rate / execLimit * 100))
            }
            peer("task-spooler W4", [.w4JobsPerSecond, .w4PercentOfLimit], .taskSpooler) {
                guard let taskSpooler else { return }
                let rate = record(.taskSpooler, try taskSpooler.commands(execJobs, ["/bin/true"]))
                print(String(format: "task-spooler W4 %d × tsp /bin/true, tsp -S 2: %.0f jobs/s, %.0f%% of the exec limit", execJobs, rate, rate / execLimit * 100))
            }
        }
        if wants("w5") {
            if runs("jobd") {
                for durability in ["normal", "full"] {
                    let sorted = try await sequential(class: .io, durability: durability)
                    if durability == "normal" {
                        table.set(.w5P50, .jobd, percentile(sorted, 0.50))
                        table.set(.w5P99, .jobd, percentile(sorted, 0.99))
                    }
                }
                _ = try await sequential(class: .cpu, durability: "normal")
            }
            peer("beanstalkd W5", [.w5P50, .w5P99], .beanstalkd) { try beanstalkd?.sequential(sequentialJobs) }
            if taskSpooler != nil { table.set([.w5P50, .w5P99], .taskSpooler, text: "— (see CLI rows)") }
        }
        if wants("submit-wait") {
            if runs("jobd") { try await jobctlSubmitWait(table) }
            peer("task-spooler submit-wait", [.submitWaitP50, .submitWaitP99], .taskSpooler) {
                try taskSpooler?.submitAndWait(submitWaitCalls)
            }
            if beanstalkd != nil { table.set([.submitWaitP50, .submitWaitP99], .beanstalkd, text: "— (no CLI)") }
        }
        if wants("status") {
            if runs("jobd") { table.set(.statusP50, .jobd, try await jobctlStatus()) }
            peer("task-spooler status", [.statusP50], .taskSpooler) { try taskSpooler?.list(statusCalls) }
            if beanstalkd != nil { table.set(.statusP50, .beanstalkd, .text("— (no CLI)")) }
        }
        if wants("mixed") && runs("jobd") { try await mixed() }
        if wants("queued") && runs("jobd") { try await queued() }

        table.note("Jobs per workload: W1 \(noopJobs), W2 \(hashJobs), W3 \(sleepJobs), W4 \(execJobs), W5 \(sequentialJobs); CLI calls: submit-and-wait \(submitWaitCalls), status \(statusCalls).")
        table.note("Load average (1 min) at the start \(startLoad), at the end \(loadAverage()): other work on the machine moves every figure.")
        print("")
        print(table.markdown())
    }

    /// A million jobs waiting (issue 9): `--cpu -- true` jobs behind one long job that holds the only
    /// worker. Reports the daemon's RSS with them queued, its start-up time with them in the database
    /// (launch to first answer) and its RSS after that, and a Status round trip. Goal: ≤ 150 MB, ≤ 3 s,
    /// ≤ 2 ms.
    private func queued() async throws {
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
        first.stop(keepFiles: true)
        let started = ContinuousClock.now
        let second = try await BenchDaemon(
            binDirectory: binDir, arguments: arguments, directory: first.directory, waitForIdleWorkers: false)
        let startup = seconds(ContinuousClock.now - started)
        defer { second.stop() }
        let restartedStatusMillis = try await statusRoundTrips(second.socket)
        print(String(
            format: "queued %d × --cpu -- true behind one busy worker: daemon RSS %.1f MB queued, Status p50 %.3f ms; restart with them stored: answers in %.2f s, RSS %.1f MB after (peak %.1f MB), Status p50 %.3f ms",
            submitted, Double(queuedRSS) / 1e6, statusMillis, startup, Double(second.currentRSS) / 1e6,
            Double(second.peakRSS) / 1e6, restartedStatusMillis))
    }

    /// The median of 200 Status round trips on one connection, in milliseconds.
    private func statusRoundTrips(_ socket: String) async throws -> Double {
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

    private func daemon(_ arguments: [String] = []) async throws -> BenchDaemon {
        try await BenchDaemon(binDirectory: binDir, arguments: ["--cpu-workers", "2"] + arguments)
    }

    /// Submits `specs` in one call and waits for all; returns the jobs and the seconds from submit to the end.
    private func submitAndWait(_ specs: [JobSpec], on daemon: BenchDaemon) async throws -> ([Job], Double) {
        let started = ContinuousClock.now
        let jobs = try await JobdConnection.withConnection(path: daemon.socket) { connection in
            let ids = try await connection.call(Submit.method, Submit.Parameters(jobs: specs), returning: Submit.Reply.self).ids
            return try await connection.call(Wait.method, Wait.Parameters(ids: ids), returning: Wait.Reply.self).jobs
        }
        return (jobs, seconds(ContinuousClock.now - started))
    }

    private func failures(_ jobs: [Job]) -> String {
        let failed = jobs.filter { $0.state != .succeeded }
        return failed.isEmpty ? "" : " (\(failed.count) failed: \(failed[0].error ?? "?"))"
    }

    /// W1: `noopJobs` no-op jobs in one Submit, durable; submit → all finished (one Wait on every id). Jobs/s.
    @discardableResult
    private func noopBatch(class jobClass: JobClass) async throws -> Double {
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
    private func commands(_ command: CPUCommand) async throws -> Double {
        let daemon = try await daemon()
        defer { daemon.stop() }
        let (jobs, elapsed) = try await submitAndWait(
            Array(repeating: JobSpec(argv: command.argv, env: [:], class: .cpu), count: hashJobs), on: daemon)
        if !failures(jobs).isEmpty { print("W2 command on jobd:\(failures(jobs))") }
        return elapsed
    }

    /// W2 in-process: `hashJobs` sha256 handler jobs of a file sized so one takes about 20 ms, on 2
    /// workers. Efficiency against the handler's own compute time.
    private func hashes() async throws -> Double {
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
    private func sleepers(_ table: ResultTable) async throws {
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
    private func execs() async throws -> (Double, String) {
        let daemon = try await daemon()
        defer { daemon.stop() }
        let (jobs, elapsed) = try await submitAndWait(
            Array(repeating: JobSpec(argv: ["/bin/true"], env: [:], class: .cpu), count: execJobs), on: daemon)
        return (elapsed, failures(jobs))
    }

    /// W5: `sequentialJobs` no-op jobs, each submitted after the previous finished: submit → completion seen.
    /// Returns the latencies in ms, sorted.
    private func sequential(class jobClass: JobClass, durability: String) async throws -> [Double] {
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
    private func jobctlStatus() async throws -> Double {
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
    private func jobctlSubmitWait(_ table: ResultTable) async throws {
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

extension JobdBench {
    /// Issue 5: `mixedCPU` CPU-heavy and `mixedSleep` sleep-heavy commands, interleaved, submitted in one
    /// call without hints after one warm-up run of each; against correct hints, all forced to the CPU
    /// pool (one queue, as in task-spooler or pueue), and all forced to the I/O path.
    func mixed() async throws {
        let directory = NSTemporaryDirectory() + "jobd-bench-mixed"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let burner = directory + "/burn.py"
        // CPU time, not wall time: a fixed amount of work however many share the cores.
        try "import time\nwhile time.process_time() < 0.2: pass\n".write(
            toFile: burner, atomically: true, encoding: .utf8)
        let burn = JobSpec(argv: ["/usr/bin/python3", burner], env: [:])
        let nap = JobSpec(argv: ["/usr/bin/sleep", "0.1"], env: [:])
        func workload(burn: JobSpec, nap: JobSpec) -> [JobSpec] {
            var specs: [JobSpec] = []
            let naps = mixedSleep / max(1, mixedCPU)
            for index in 0..<max(mixedCPU, mixedSleep) {
                if index < mixedCPU { specs.append(burn) }
                for _ in 0..<naps where specs.count < mixedCPU + mixedSleep { specs.append(nap) }
            }
            return Array(specs.prefix(mixedCPU + mixedSleep))
        }
        func hinted(_ spec: JobSpec, _ jobClass: JobClass) -> JobSpec {
            var spec = spec
            spec.class = jobClass
            return spec
        }
        /// One run on a fresh daemon; "learned" runs first warm up one of each, so jobd has seen both.
        func run(_ specs: [JobSpec], learned: Bool) async throws -> ([Job], Double) {
            let daemon = try await daemon()
            defer { daemon.stop() }
            if learned {
                _ = try await submitAndWait([burn], on: daemon)
                _ = try await submitAndWait([nap], on: daemon)
            }
            return try await submitAndWait(specs, on: daemon)
        }
        func isBurner(_ job: Job) -> Bool { job.argv?.first == "/usr/bin/python3" }

        var results: [Double] = []
        for (label, specs, learned) in [
            ("learned (no hints, after one warm-up run of each)", workload(burn: burn, nap: nap), true),
            ("correct hints", workload(burn: hinted(burn, .cpu), nap: hinted(nap, .io)), false),
            ("all forced to the CPU pool", workload(burn: hinted(burn, .cpu), nap: hinted(nap, .cpu)), false),
            ("all forced to the I/O path", workload(burn: hinted(burn, .io), nap: hinted(nap, .io)), false),
        ] {
            let (jobs, elapsed) = try await run(specs, learned: learned)
            results.append(elapsed)
            // Makespan alone hides what a wrong class costs: time to completion of each kind of job.
            func meanTurnaround(_ burners: Bool) -> Double {
                let picked = jobs.filter { isBurner($0) == burners }
                let total = picked.map { ($0.finishedAt?.secondsSinceEpoch ?? 0) - $0.createdAt.secondsSinceEpoch }.reduce(0, +)
                return total / Double(max(1, picked.count))
            }
            print(String(
                format: "mixed %d CPU-heavy + %d sleep-heavy, %@: makespan %.2f s; mean time to completion: CPU-heavy %.2f s, sleep-heavy %.2f s (%d ran as cpu)%@",
                mixedCPU, mixedSleep, label, elapsed, meanTurnaround(true), meanTurnaround(false),
                jobs.filter { $0.class == .cpu }.count, failures(jobs)))
        }
        print(String(
            format: "mixed: learned is %.1f%% of the correct hints' makespan; forced-CPU %.1fx, forced-I/O %.2fx the learned",
            results[0] / results[1] * 100, results[2] / results[0], results[3] / results[0]))

        // Issue 10: the same again with the machine oversubscribed by two busy loops outside jobd. A
        // class learned from CPU share alone drifts to io here (each burner gets ~0.5 of a core); one
        // learned from demand (CPU + run-queue wait) does not.
        let loops = (0..<2).compactMap { _ -> Process? in
            let process = Process()
            process.executableURL = URL(fileURLWithPath: "/bin/sh")
            process.arguments = ["-c", "while :; do :; done"]
            return (try? process.run()) == nil ? nil : process
        }
        // SIGKILL and a wait: a SIGTERM left both loops running after the bench (seen: every later
        // measurement on the machine then ran on a fraction of its cores).
        defer {
            for process in loops {
                kill(process.processIdentifier, SIGKILL)
                process.waitUntilExit()
            }
        }
        var loaded: [Double] = []
        for (label, specs, learned) in [
            ("learned, 2 busy loops outside jobd", workload(burn: burn, nap: nap), true),
            ("correct hints, 2 busy loops outside jobd", workload(burn: hinted(burn, .cpu), nap: hinted(nap, .io)), false),
        ] {
            let (jobs, elapsed) = try await run(specs, learned: learned)
            loaded.append(elapsed)
            let burners = jobs.filter(isBurner)
            let naps = jobs.filter { !isBurner($0) }
            print(String(
                format: "mixed %d CPU-heavy + %d sleep-heavy, %@: makespan %.2f s; burners as cpu %d/%d, naps as io %d/%d%@",
                mixedCPU, mixedSleep, label, elapsed, burners.filter { $0.class == .cpu }.count, burners.count,
                naps.filter { $0.class == .io }.count, naps.count, failures(jobs)))
        }
        print(String(
            format: "mixed: learned is %.1f%% of the correct hints' makespan without load, %.1f%% with 2 busy loops",
            results[0] / results[1] * 100, loaded[0] / loaded[1] * 100))
    }
}

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
