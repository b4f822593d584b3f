import ArgumentParser
import Glibc
import JobdClient
import JobdProtocol

/// `jobctl watch`: a live, full-screen view drawn from jobd's `Watch` stream; `--once` prints one frame.
struct WatchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "watch",
        abstract: "A live view: counts by state and class, the workers, the latest transitions, throughput.",
        discussion: """
            Redrawn as jobd reports changes (and every 5 s); Ctrl-C ends it and restores the terminal. Into a pipe \
            or a file it prints plain frames one after another, with no control codes.
            """)

    @OptionGroup var global: GlobalOptions
    @Flag(help: "Print one frame and exit (for scripts).") var once = false

    func run() throws {
        if once {
            let reply = try global.withConnection { connection in
                try connection.call(Watch.method, Watch.Parameters(), returning: Watch.Reply.self)
            }
            writeOut(Self.frame(reply, throughput: nil, screen: false) + "\n")
            return
        }
        // Not a terminal (a pipe, a file): each frame as --once prints it, then a blank line, and no
        // control codes (`jobctl watch | head` reads text, like `top -b`).
        let isTerminal = isatty(1) == 1
        try global.withConnection { connection in
            // Inside withConnection: the screen is left before it prints why the stream ended (a daemon
            // gone), which on the alternate screen would vanish with it.
            if isTerminal { Screen.enter() }
            defer { if isTerminal { Screen.leave() } }
            try connection.stream(Watch.method, Watch.Parameters()) { (reply: Watch.Reply) in
                // The daemon measures throughput over a window and sends a frame when it moves, so the
                // figure falls back to 0 when jobs stop finishing.
                guard isTerminal else {
                    writeOut(Self.frame(reply, throughput: reply.throughput, screen: false) + "\n\n")
                    return
                }
                let frame = Self.frame(
                    reply, throughput: reply.throughput, screen: true, rows: Terminal.height, columns: Terminal.width)
                writeOut(Screen.home + frame + Screen.clearToEnd)
            }
        }
    }

    /// One frame of the view, as text lines.
    /// - Parameters:
    ///   - screen: for the live view: each line also clears what an earlier frame left after it.
    ///   - rows: the terminal's height, or nil: the frame's first lines that fit. A taller frame would
    ///     scroll the screen at its last line, so the next one, drawn from the top, would not cover it.
    ///   - columns: the terminal's width, or nil: each line cut to it, as a wrapped line would push the
    ///     frame down the same way.
    static func frame(
        _ reply: Watch.Reply, throughput: Double?, screen: Bool, rows: Int? = nil, columns: Int? = nil
    ) -> String {
        let status = reply.status
        var lines: [String] = []
        let rate = throughput.map { " · \(Profile.format($0)) jobs/s over \(Watch.throughputWindowSeconds) s" } ?? ""
        lines.append(
            "jobd \(status.version) · up \(DurationText.format(seconds: status.uptimeSeconds)) · "
                + "\(status.finishedSinceStart) finished since start\(rate)")
        if !status.paused.isEmpty { lines.append("paused: \(status.paused.joined(separator: ", "))") }
        lines.append("")
        var counts = Table("STATE", "CPU", "IO", "TOTAL")
        for state in JobState.allCases {
            counts.add([state.rawValue, String(status.cpu[state]), String(status.io[state]), String(status.total[state])])
        }
        lines.append(counts.render())
        lines.append("")
        var workers = Table("WORKER", "STATE", "JOB", "QUEUED", "JOBS RUN")
        for worker in status.workers {
            workers.add([
                String(worker.slot), worker.state, worker.jobID.map(\.description) ?? "-", String(worker.queued),
                String(worker.jobsRun),
            ])
        }
        lines.append(workers.render())
        lines.append("")
        var recent = Table("WHEN", "JOB", "CLASS", "NOW")
        for transition in reply.recent.prefix(12) {
            recent.add([transition.at.rfc3339, transition.id.description, transition.class.rawValue, transition.state.rawValue])
        }
        lines.append(recent.render())
        var shown = lines.joined(separator: "\n").split(separator: "\n", omittingEmptySubsequences: false)
        if let rows { shown = Array(shown.prefix(rows)) }
        if let columns { shown = shown.map { $0.prefix(columns) } }
        return shown.map { screen ? $0 + Screen.clearLine : $0 }.joined(separator: "\n")
    }
}

/// The terminal as a full screen: the alternate screen while watching, the normal one back on exit,
/// also on Ctrl-C (SIGINT, SIGTERM, SIGHUP restore it before the process ends). Echo is off meanwhile:
/// watch reads no keys, and a key typed would be printed over the view until the next frame.
enum Screen {
    static let home = "\u{1B}[H"
    static let clearLine = "\u{1B}[K"
    static let clearToEnd = "\u{1B}[J"

    /// The terminal's modes before enter(), if stdin is a terminal; set back by leave() and the signal
    /// handlers, which enter() installs only once both are set (the handlers only read them).
    nonisolated(unsafe) private static let savedModes = UnsafeMutablePointer<termios>.allocate(capacity: 1)
    nonisolated(unsafe) private static var hasSavedModes = false

    static func enter() {
        if tcgetattr(0, savedModes) == 0 {
            hasSavedModes = true
            var quiet = savedModes.pointee
            quiet.c_lflag &= ~tcflag_t(ECHO)
            tcsetattr(0, TCSANOW, &quiet)
        }
        writeOut("\u{1B}[?1049h\u{1B}[?25l\u{1B}[H\u{1B}[2J")
        for signal in [SIGINT, SIGTERM, SIGHUP] {
            Glibc.signal(signal) { number in
                // Only async-signal-safe calls here: tcsetattr, write(2) of a constant, then _exit.
                if Screen.hasSavedModes { tcsetattr(0, TCSANOW, Screen.savedModes) }
                let restore: StaticString = "\u{1B}[?25h\u{1B}[?1049l"
                _ = write(1, restore.utf8Start, restore.utf8CodeUnitCount)
                _exit(128 + number)
            }
        }
    }

    static func leave() {
        writeOut("\u{1B}[?25h\u{1B}[?1049l")
        if hasSavedModes { tcsetattr(0, TCSANOW, savedModes) }
    }
}
