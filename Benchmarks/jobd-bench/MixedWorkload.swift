import Foundation
import JobdProtocol

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
