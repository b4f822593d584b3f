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
    @Option(help: "Queued: jobs held in the queue behind one busy worker.") var queuedJobs: Int = 300_000
    @Option(help: "Cost: no-op jobs one after another whose server CPU and context switches are counted (ctxsw.py's figure).") var costJobs: Int = 5_000
    @Option(help: "Run only these, comma-separated: workloads (w1 … w5, cost, submit-wait, status, mixed, queued) and/or systems (jobd, peers = beanstalkd and tsp, beanstalkd, tsp). No workload named: all; no system named: all. E.g. --only peers, --only w4,jobd,beanstalkd.")
    var only: String?
    @Option(help: .private) var beanstalkdConsumer: UInt16?
    @Option(help: .private) var consumerArgv: [String] = []
    @Flag(help: "jobd alone: no beanstalkd or task-spooler runs (their columns say \"not run\").") var noPeers = false

    private static let workloads: Set<String> = ["w1", "w2", "w3", "w4", "w5", "cost", "submit-wait", "status", "mixed", "queued"]
    private static let systems: Set<String> = ["jobd", "peers", "beanstalkd", "tsp"]

    func validate() throws {
        let unknown = selected.subtracting(Self.workloads).subtracting(Self.systems)
        if !unknown.isEmpty { throw ValidationError("--only: unknown \(unknown.sorted().joined(separator: ", "))") }
    }

    private var selected: Set<String> { Set((only ?? "").split(separator: ",").map(String.init)) }

    func run() async throws {
        // One of beanstalkd's consumer processes in W2 and W4 (Peers/Beanstalkd.swift), not a bench run.
        if let beanstalkdConsumer { return try Beanstalkd.consume(port: beanstalkdConsumer, command: consumerArgv) }
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
                makespans.append((.beanstalkd, "beanstalkd, 2 consumer processes exec'ing it", try beanstalkd.commands(hashJobs, command.argv)))
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
                print(String(format: "beanstalkd W4 %d × /bin/true, 2 consumer processes exec'ing it: %.0f jobs/s, %.0f%% of the exec limit", execJobs, rate, rate / execLimit * 100))
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
        if wants("cost") {
            if runs("jobd") {
                let cost = try await jobdCost()
                table.set(.costCPU, .jobd, cost.cpuMicroseconds)
                table.set(.costSwitches, .jobd, cost.contextSwitches)
            }
            if let beanstalkd {
                do {
                    let cost = try await beanstalkd.cost(costJobs)
                    table.set(.costCPU, .beanstalkd, cost.cpuMicroseconds)
                    table.set(.costSwitches, .beanstalkd, cost.contextSwitches)
                } catch {
                    print("beanstalkd cost: \(error)")
                    table.set([.costCPU, .costSwitches], .beanstalkd, text: "failed")
                }
            }
            if taskSpooler != nil { table.set([.costCPU, .costSwitches], .taskSpooler, text: "—") }
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
        if wants("queued") && runs("jobd") { try await queued(table) }

        table.note("Jobs per workload: W1 \(noopJobs), W2 \(hashJobs), W3 \(sleepJobs), W4 \(execJobs), W5 \(sequentialJobs), cost \(costJobs), queued \(queuedJobs); CLI calls: submit-and-wait \(submitWaitCalls), status \(statusCalls).")
        table.note("Load average (1 min) at the start \(startLoad), at the end \(loadAverage()): other work on the machine moves every figure.")
        print("")
        print(table.markdown())
    }
}
