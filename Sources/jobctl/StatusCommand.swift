import ArgumentParser
import JobdClient
import JobdProtocol

struct StatusCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status", abstract: "Counts by state and class, limits, uptime and the CPU workers.")

    @OptionGroup var global: GlobalOptions
    @Flag(help: "Print JSON.") var json = false

    func run() throws {
        try Self.show(socketPath: global.socketPath, json: json)
    }

    /// The whole command once its arguments are known; also jobctl's fast path for a bare `status`.
    static func show(socketPath: String, json: Bool) throws {
        let status = try GlobalOptions.withConnection(to: socketPath) { connection in
            try connection.call(Status.method, Status.Parameters(), returning: Status.Reply.self)
        }
        if json {
            try printJSON(status)
            return
        }
        print("jobd \(status.version), pid \(status.pid), up \(DurationText.format(seconds: status.uptimeSeconds))")
        print("database \(status.database)")
        print("limits: \(status.cpuLimit) cpu at once, \(status.ioLimit) io at once; \(status.finishedSinceStart) finished since start")
        print("")
        var table = Table("STATE", "CPU", "IO", "TOTAL")
        for state in JobState.allCases {
            table.add([state.rawValue, String(status.cpu[state]), String(status.io[state]), String(status.total[state])])
        }
        print(table.render())
        if !status.paused.isEmpty { print("\npaused: \(status.paused.joined(separator: ", ")) (nothing new starts)") }
        if !status.queues.isEmpty {
            print("")
            var queues = Table("QUEUE", "LIMIT", "RUNNING", "PAUSED")
            for queue in status.queues {
                queues.add([queue.name, queue.limit.map(String.init) ?? "-", String(queue.running), queue.paused ? "yes" : "no"])
            }
            print(queues.render())
        }
        guard !status.workers.isEmpty else { return }
        print("")
        var workers = Table("WORKER", "PID", "STATE", "JOB", "QUEUED", "JOBS RUN", "RSS")
        for worker in status.workers {
            workers.add([
                String(worker.slot), worker.pid.map(String.init) ?? "-", worker.state,
                worker.jobID.map(\.description) ?? "-", String(worker.queued), String(worker.jobsRun),
                worker.rssBytes.map { "\($0 >> 20) MiB" } ?? "-",
            ])
        }
        print(workers.render())
    }
}
