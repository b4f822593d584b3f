import Foundation

/// The systems side by side in the final table.
enum BenchSystem: CaseIterable {
    case jobd, beanstalkd, taskSpooler
}

/// The figures of the final table, one per workload and unit (../shared/PEERS.md's units).
enum Figure: CaseIterable {
    case w1JobsPerSecond
    case w2CommandEfficiency, w2HandlerEfficiency
    case w3Makespan, w3DaemonRSS, w3TotalRSS
    case w4JobsPerSecond, w4PercentOfLimit
    case w5P50, w5P99
    case costCPU, costSwitches
    case submitWaitP50, submitWaitP99
    case statusP50
    case queuedRSS, restartSeconds, restartRSS

    var label: String {
        switch self {
        case .w1JobsPerSecond: "W1 no-op jobs, batched, durable: jobs/s ↑"
        case .w2CommandEfficiency: "W2 ~20 ms CPU command, 2 workers: efficiency ↑"
        case .w2HandlerEfficiency: "W2 same work in-process (jobd: sha256 handler in the worker): efficiency ↑"
        case .w3Makespan: "W3 jobs that wait 1 s, all at once: makespan s ↓"
        case .w3DaemonRSS: "W3 peak RSS, server alone: MB ↓"
        case .w3TotalRSS: "W3 peak RSS, server + workers: MB ↓"
        case .w4JobsPerSecond: "W4 /bin/true, 2 at a time: jobs/s ↑"
        case .w4PercentOfLimit: "W4 % of the exec limit ↑"
        case .w5P50: "W5 no-op jobs one after another: p50 ms ↓"
        case .w5P99: "W5 p99 ms ↓"
        case .costCPU: "Cost of one no-op job to the server (ctxsw.py): CPU µs ↓"
        case .costSwitches: "Cost of one no-op job: context switches, all server threads ↓"
        case .queuedRSS: "Queued behind a busy worker (300,000): server RSS MB ↓"
        case .restartSeconds: "Those queued, restart after kill -9: s until Status answers ↓"
        case .restartRSS: "Those queued, after that restart: RSS MB ↓"
        case .submitWaitP50: "CLI submit-and-wait `/bin/true`, one after another: p50 ms ↓"
        case .submitWaitP99: "CLI submit-and-wait p99 ms ↓"
        case .statusP50: "CLI status/list call: p50 ms ↓"
        }
    }

    var format: String {
        switch self {
        case .w1JobsPerSecond, .w4JobsPerSecond, .w4PercentOfLimit: "%.0f"
        case .w2CommandEfficiency, .w2HandlerEfficiency, .w5P50, .w5P99: "%.3f"
        case .w3Makespan, .submitWaitP50, .submitWaitP99, .statusP50: "%.2f"
        case .w3DaemonRSS, .w3TotalRSS, .costSwitches, .queuedRSS, .restartRSS: "%.1f"
        case .costCPU: "%.0f"
        case .restartSeconds: "%.2f"
        }
    }
}

/// One cell: a figure, or why there is none.
enum Cell {
    case value(Double)
    case text(String)
}

/// Collects the figures as the workloads run and prints them at the end as one markdown table, jobd
/// beside each peer with the ratio jobd ÷ peer (↑ rows: above 1 is jobd ahead; ↓ rows: below 1 is).
final class ResultTable: @unchecked Sendable {
    private let lock = NSLock()
    private var cells: [Figure: [BenchSystem: Cell]] = [:]
    private var notes: [String] = []
    private var missing: Set<BenchSystem> = []
    var versions: [BenchSystem: String] = [:]

    func set(_ figure: Figure, _ system: BenchSystem, _ value: Double) { set(figure, system, .value(value)) }

    func set(_ figure: Figure, _ system: BenchSystem, _ cell: Cell) {
        lock.withLock { cells[figure, default: [:]][system] = cell }
    }

    /// The same text for several figures (e.g. "not installed", or "—" where a peer has no equivalent).
    func set(_ figures: [Figure], _ system: BenchSystem, text: String) {
        for figure in figures { set(figure, system, .text(text)) }
    }

    /// The system is not installed: its cells say so on every row that runs.
    func notInstalled(_ system: BenchSystem) { lock.withLock { _ = missing.insert(system) } }

    func note(_ line: String) { lock.withLock { notes.append(line) } }

    func value(_ figure: Figure, _ system: BenchSystem) -> Double? {
        lock.withLock {
            if case .value(let value)? = cells[figure]?[system] { return value }
            return nil
        }
    }

    func markdown() -> String {
        lock.withLock {
            let beanstalkd = versions[.beanstalkd] ?? "beanstalkd"
            let taskSpooler = versions[.taskSpooler] ?? "task-spooler"
            var lines = [
                "| figure | jobd | \(beanstalkd) | jobd ÷ beanstalkd | \(taskSpooler) | jobd ÷ task-spooler |",
                "|---|---:|---:|---:|---:|---:|",
            ]
            for figure in Figure.allCases where cells[figure] != nil {
                let row = cells[figure]!
                func text(_ system: BenchSystem) -> String {
                    switch row[system] {
                    case .value(let value)?: String(format: figure.format, value)
                    case .text(let text)?: text
                    case nil: missing.contains(system) ? "not installed" : "not run"
                    }
                }
                func ratio(_ peer: BenchSystem) -> String {
                    guard case .value(let ours)? = row[.jobd], case .value(let theirs)? = row[peer], theirs != 0 else { return "" }
                    return String(format: "%.2f×", ours / theirs)
                }
                lines.append(
                    "| \(figure.label) | \(text(.jobd)) | \(text(.beanstalkd)) | \(ratio(.beanstalkd)) | \(text(.taskSpooler)) | \(ratio(.taskSpooler)) |")
            }
            let legend = "Ratios are jobd ÷ peer: on ↑ rows above 1 is jobd ahead, on ↓ rows below 1 is."
            return (lines + [""] + ([legend] + notes).map { "- " + $0 }).joined(separator: "\n")
        }
    }
}
