import Foundation
import JobdClient
import JobdVarlinkNIO
import JobdProtocol

/// What one no-op job costs the server, as ../shared/tools/ctxsw.py measures it: context switches over
/// all the server's threads (voluntary and involuntary) and its CPU time (user + system), per job, over
/// jobs sent one after another from one client after a warm-up. jobd: Submit of one `noop` job of class
/// io, then Wait `states_only`; beanstalkd: put, reserve, delete on one connection, with its binlog.
struct ServerCost {
    var contextSwitches: Double
    var cpuMicroseconds: Double
    var roundTripMilliseconds: Double
    /// Context switches per job by thread name (digits dropped: `NIO-ELT-0-#1` and `-#2` are one line),
    /// so a change to the job's path shows which hand-off it saved.
    var switchesByThread: [(name: String, perJob: Double)]

    /// Runs `warmUp` jobs, then `count` more, and divides what `pid` spent on those by `count`.
    static func measure(pid: pid_t, count: Int, warmUp: Int = 200, oneJob: () async throws -> Void) async throws -> ServerCost {
        for _ in 0..<warmUp { try await oneJob() }
        let (threads, cpu) = (ProcStats.contextSwitchesByThread(pid), ProcStats.cpuSeconds(pid))
        let started = ContinuousClock.now
        for _ in 0..<count { try await oneJob() }
        let elapsed = seconds(ContinuousClock.now - started)
        let (threadsAfter, cpuAfter) = (ProcStats.contextSwitchesByThread(pid), ProcStats.cpuSeconds(pid))
        let jobs = Double(count)
        var byName: [String: Int64] = [:]
        for (task, thread) in threadsAfter {
            let name = String(thread.name.filter { !$0.isNumber })
            byName[name, default: 0] += thread.switches - (threads[task]?.switches ?? 0)
        }
        return ServerCost(
            contextSwitches: Double(byName.values.reduce(0, +)) / jobs,
            cpuMicroseconds: (cpuAfter - cpu) * 1e6 / jobs,
            roundTripMilliseconds: elapsed * 1000 / jobs,
            switchesByThread: byName.map { ($0.key, Double($0.value) / jobs) }.filter { $0.perJob >= 0.05 }
                .sorted { $0.perJob > $1.perJob })
    }

    var line: String {
        String(format: "%.1f context switches, %.0f µs server CPU, %.3f ms round trip", contextSwitches, cpuMicroseconds, roundTripMilliseconds)
            + "; switches by thread: " + switchesByThread.map { String(format: "%@ %.1f", $0.name, $0.perJob) }.joined(separator: ", ")
    }
}

extension JobdBench {
    /// ctxsw.py's figure on a fresh daemon.
    func jobdCost() async throws -> ServerCost {
        let daemon = try await daemon()
        defer { daemon.stop() }
        let spec = JobSpec(kind: "noop", class: .io)
        let cost = try await JobdConnection.withConnection(path: daemon.socket) { connection in
            try await ServerCost.measure(pid: daemon.process.processIdentifier, count: costJobs) {
                let ids = try await connection.call(Submit.method, Submit.Parameters(jobs: [spec]), returning: Submit.Reply.self).ids
                _ = try await connection.call(Wait.method, Wait.Parameters(ids: ids, statesOnly: true), returning: Wait.StatesReply.self)
            }
        }
        print("cost of one no-op job to jobd (\(costJobs) one after another, as ctxsw.py): " + cost.line + "; threads \(ProcStats.threads(daemon.process.processIdentifier))")
        return cost
    }
}

extension Beanstalkd {
    /// The same figure for beanstalkd: put, reserve, delete, one after another on one connection.
    func cost(_ count: Int) async throws -> ServerCost {
        let server = try BeanstalkServer(binary: binary)
        defer { server.stop() }
        let connection = try BeanstalkConnection(port: server.port)
        let cost = try await ServerCost.measure(pid: server.pid, count: count) {
            try connection.put("x")
            try connection.delete(try connection.reserve().id)
        }
        print("cost of one no-op job to beanstalkd (put + reserve + delete, \(count) one after another): " + cost.line)
        return cost
    }
}

extension ProcStats {
    /// Each living thread of `pid` (by task id): its name and its voluntary and involuntary context
    /// switches so far, as ctxsw.py counts them (/proc/PID/status holds only the main thread's).
    static func contextSwitchesByThread(_ pid: pid_t) -> [String: (name: String, switches: Int64)] {
        let tasks = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/task")) ?? []
        var result: [String: (name: String, switches: Int64)] = [:]
        for task in tasks {
            let name = (try? String(contentsOfFile: "/proc/\(pid)/task/\(task)/comm", encoding: .utf8)) ?? "?"
            result[task] = (
                name.trimmingCharacters(in: .whitespacesAndNewlines),
                statusField(pid, task: task, "voluntary_ctxt_switches:") + statusField(pid, task: task, "nonvoluntary_ctxt_switches:"))
        }
        return result
    }

    /// User + system CPU seconds of `pid` (all its threads, living and exited), from /proc/PID/stat.
    static func cpuSeconds(_ pid: pid_t) -> Double {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
            let close = stat.lastIndex(of: ")")
        else { return 0 }
        // After "(comm)": state is field 3 of proc(5), utime 14 and stime 15, so 11 and 12 here.
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        guard fields.count > 12, let user = Double(fields[11]), let system = Double(fields[12]) else { return 0 }
        return (user + system) / Double(sysconf(Int32(_SC_CLK_TCK)))
    }

    static func threads(_ pid: pid_t) -> Int {
        (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/task").count) ?? 0
    }

    private static func statusField(_ pid: pid_t, task: String, _ name: String) -> Int64 {
        guard let status = try? String(contentsOfFile: "/proc/\(pid)/task/\(task)/status", encoding: .utf8),
            let line = status.split(separator: "\n").first(where: { $0.hasPrefix(name) }),
            let count = Int64(line.split(separator: "\t").last?.trimmingCharacters(in: .whitespaces) ?? "")
        else { return 0 }
        return count
    }
}
