import Foundation
import JobdProtocol
import JobdTestSupport
import Testing

extension AgainstTheRealDaemon {
    /// `jobctl watch` the way a person sees it (issue 13): in a tmux pane of a fixed size, read back with
    /// `capture-pane`, typed into with `send-keys`. Each test has a tmux server of its own on a socket in
    /// the daemon's temp directory, killed at the end (``TmuxServer``).
    @Suite struct WatchInTmuxTests {
        /// What the pane runs: a shell, as a person's would be, that prints a line on the normal screen
        /// (which must be there again once watch has left the alternate screen), runs watch, then says
        /// whether the terminal's modes (stty) are as before and how watch exited, and stays (the terminal
        /// is the shell's again). It survives Ctrl-C, as an interactive shell does; watch gets SIGINT with
        /// its default action, as a foreground job does.
        static func watchCommand(_ daemon: DaemonProcess) -> String {
            "trap : INT; modes=$(stty -g); echo before-watch; '\(Binaries.jobctl)' --socket '\(daemon.socket)' watch; "
                + "status=$?; if [ \"$(stty -g)\" = \"$modes\" ]; then echo 'terminal modes as before'; "
                + "else echo \"terminal modes changed: $(stty -a)\"; fi; echo \"watch exited with $status\"; exec sleep 600"
        }

        @Test(.enabled(if: SystemTools.hasTmux, "needs tmux; make deps installs it"))
        func theLiveViewFollowsTheDaemonAndCtrlCRestoresTheTerminal() async throws {
            try await DaemonProcess.with { daemon in
                let paused = try await daemon.jobctl("pause", "cpu")
                #expect(paused.status == 0, "\(paused)")
                let ids = try await daemon.submit([
                    JobSpec(argv: ["sleep", "600"], class: .io), JobSpec(argv: ["true"], class: .cpu),
                ])
                let (sleeper, held) = (ids[0], ids[1])
                try await eventually("the sleeper runs") { try await daemon.job(sleeper).state == .running ? true : nil }

                try await TmuxServer.with(in: daemon.directory) { tmux in
                    try await tmux.newSession("watch", columns: 120, rows: 40, command: Self.watchCommand(daemon))
                    let first = try await Self.screen(of: tmux, showing: "the held CPU job queued, the sleeper running") {
                        Self.row("queued", of: $0) == ["queued", "1", "0", "1"]
                            && Self.row("running", of: $0) == ["running", "0", "1", "1"] && $0.contains("paused: cpu")
                    }
                    #expect(try await tmux.display("watch", "#{alternate_on}") == "1", "a full-screen view")
                    #expect(first.hasPrefix("jobd "), "the frame starts at the top line: \(first)")
                    #expect(!first.contains("before-watch"), "the shell's screen is hidden while watching: \(first)")
                    #expect(
                        Self.lines(of: first).contains { $0.contains(" \(sleeper) ") && $0.hasSuffix(" running") },
                        "the sleeper's start is among the recent transitions: \(first)")

                    // Keys typed are not printed over the view (watch reads none; Ctrl-C ends it).
                    try await tmux.sendKeys("watch", "z", "q", "z")
                    try await staysFalse("the typed keys show on the view") {
                        try await tmux.capture("watch").contains("zqz")
                    }

                    // Live: the changes reach the pane with no key pressed, through the stream alone.
                    #expect(try await daemon.jobctl("resume", "cpu").status == 0)
                    #expect(try await daemon.jobctl("cancel", sleeper.description).status == 0)
                    _ = try await daemon.wait([held, sleeper])
                    let later = try await Self.screen(of: tmux, showing: "the held job done, the sleeper cancelled") {
                        Self.row("queued", of: $0) == ["queued", "0", "0", "0"]
                            && Self.row("running", of: $0) == ["running", "0", "0", "0"]
                            && Self.row("succeeded", of: $0) == ["succeeded", "1", "0", "1"]
                            && Self.row("cancelled", of: $0) == ["cancelled", "0", "1", "1"]
                    }
                    #expect(!later.contains("paused:"), "the paused line went with the pause: \(later)")
                    #expect(
                        Self.lines(of: later).contains { $0.contains(" \(held) ") && $0.hasSuffix(" succeeded") },
                        "the held job's end is among the recent transitions: \(later)")
                    #expect(later.hasPrefix("jobd "), "redrawn in place, from the top line: \(later)")

                    try await tmux.sendKeys("watch", "C-c")
                    try await Self.expectRestored(tmux, exitStatus: "130")
                }
            }
        }

        /// A default-sized terminal (80×24) is shorter than a frame with twelve transitions: the frame is cut
        /// to the screen, so it never scrolls and its first line stays on top.
        @Test(.enabled(if: SystemTools.hasTmux, "needs tmux; make deps installs it"))
        func aFrameTallerThanTheTerminalIsCutNotScrolled() async throws {
            try await DaemonProcess.with { daemon in
                let ids = try await daemon.submit((0..<8).map { _ in JobSpec(argv: ["true"], class: .io) })
                _ = try await daemon.wait(ids)
                try await TmuxServer.with(in: daemon.directory) { tmux in
                    try await tmux.newSession("watch", columns: 80, rows: 24, command: Self.watchCommand(daemon))
                    _ = try await Self.screen(of: tmux, showing: "a frame with the eight jobs") {
                        Self.row("succeeded", of: $0) == ["succeeded", "0", "8", "8"]
                    }
                    // Another frame over the first: a scrolled frame would show here, shifted up.
                    let more = try await daemon.submit([JobSpec(argv: ["true"], class: .io)])
                    _ = try await daemon.wait(more)
                    let screen = try await Self.screen(of: tmux, showing: "the ninth job") {
                        Self.row("succeeded", of: $0) == ["succeeded", "0", "9", "9"]
                    }
                    let lines = Self.lines(of: screen)
                    #expect(lines.first?.hasPrefix("jobd ") == true, "the header is the top line: \(screen)")
                    #expect(lines.dropFirst(2).first?.hasPrefix("STATE") == true, "in its place: \(screen)")
                    #expect(lines.count == 24, "cut at the last row, the last transitions left out: \(screen)")
                    try await tmux.sendKeys("watch", "C-c")
                    try await Self.expectRestored(tmux, exitStatus: "130")
                }
            }
        }

        /// The daemon going away ends the view: the terminal is restored and the reason stays readable on
        /// it (not written to the alternate screen, which leaving erases).
        @Test(.enabled(if: SystemTools.hasTmux, "needs tmux; make deps installs it"))
        func aDaemonThatGoesAwayEndsTheViewWithItsReasonOnTheRestoredScreen() async throws {
            try await DaemonProcess.with { daemon in
                try await TmuxServer.with(in: daemon.directory) { tmux in
                    try await tmux.newSession("watch", columns: 120, rows: 40, command: Self.watchCommand(daemon))
                    _ = try await Self.screen(of: tmux, showing: "a first frame") { $0.contains("STATE") }
                    try await daemon.killHard()
                    let (status, screen) = try await Self.watchEnded(tmux)
                    #expect(status != "0", "a failure's exit status: \(screen)")
                    #expect(try await tmux.display("watch", "#{alternate_on}") == "0", "left the alternate screen")
                    #expect(try await tmux.display("watch", "#{cursor_flag}") == "1", "the cursor is shown again")
                    #expect(screen.contains("before-watch") && !screen.contains("STATE"), "\(screen)")
                    #expect(screen.contains("terminal modes as before"), "echo is back on: \(screen)")
                    #expect(
                        Self.lines(of: screen).contains { $0.hasPrefix("jobctl: ") },
                        "why watch ended is on the screen the user is left with: \(screen)")
                }
            }
        }

        // MARK: - Reading the pane

        /// Captures the pane until `matches` holds for its text; throws `TimedOut` with the last screen.
        /// `cancel` with a filter asks on a terminal: "n" cancels nothing and exits 1 (a person's no, not
        /// a script's mistake, which is 65); "y" cancels them all.
        @Test(.enabled(if: SystemTools.hasTmux, "needs tmux; make deps installs it"))
        func cancelOfSeveralJobsAsksOnATerminal() async throws {
            try await DaemonProcess.with { daemon in
                let ids = try await daemon.submit([
                    JobSpec(argv: ["sleep", "600"], queue: "q", delaySeconds: 600),
                    JobSpec(argv: ["sleep", "600"], queue: "q", delaySeconds: 600),
                ])
                let command = "'\(Binaries.jobctl)' --socket '\(daemon.socket)' cancel --queue q; echo \"cancel exited with $?\"; "
                    + "'\(Binaries.jobctl)' --socket '\(daemon.socket)' cancel --queue q; echo \"then exited with $?\"; exec sleep 600"
                try await TmuxServer.with(in: daemon.directory) { tmux in
                    // Named "watch": the screen helpers read that pane.
                    try await tmux.newSession("watch", columns: 100, rows: 20, command: command)
                    _ = try await Self.screen(of: tmux, showing: "the question") { $0.contains("cancel 2 jobs? [y/N]") }
                    try await tmux.sendKeys("watch", "n", "Enter")
                    let declined = try await Self.screen(of: tmux, showing: "the first cancel's end") { $0.contains("cancel exited with") }
                    #expect(declined.contains("nothing cancelled") && declined.contains("cancel exited with 1"), "\(declined)")
                    #expect(try await daemon.job(ids[0]).state == .scheduled)
                    _ = try await Self.screen(of: tmux, showing: "the question again") {
                        $0.components(separatedBy: "cancel 2 jobs? [y/N]").count == 3
                    }
                    try await tmux.sendKeys("watch", "y", "Enter")
                    let done = try await Self.screen(of: tmux, showing: "the second cancel's end") { $0.contains("then exited with") }
                    #expect(done.contains("then exited with 0"), "\(done)")
                    #expect(try await daemon.wait(ids).allSatisfy { $0.state == .cancelled })
                }
            }
        }

        static func screen(
            of tmux: TmuxServer, showing what: String, within limit: Duration = .seconds(10),
            _ matches: (String) -> Bool
        ) async throws -> String {
            var last = ""
            do {
                return try await eventually("the pane shows \(what)", within: limit) { () -> String? in
                    last = try await tmux.capture("watch")
                    return matches(last) ? last : nil
                }
            } catch let error as TimedOut {
                throw TimedOut("\(error.description); the pane showed:\n\(last)")
            }
        }

        /// Waits until watch has ended; returns its exit status (as the shell saw it) and the screen.
        static func watchEnded(_ tmux: TmuxServer) async throws -> (status: String, screen: String) {
            let screen = try await Self.screen(of: tmux, showing: "the shell's line after watch") {
                $0.contains("watch exited with ")
            }
            let line = lines(of: screen).first { $0.hasPrefix("watch exited with ") } ?? ""
            return (String(line.dropFirst("watch exited with ".count)), screen)
        }

        /// After watch ended: it exited with `exitStatus`, and the pane is back on the normal screen with
        /// the cursor shown: what the shell printed before is visible again, and no frame is left.
        static func expectRestored(_ tmux: TmuxServer, exitStatus: String) async throws {
            let (status, screen) = try await watchEnded(tmux)
            #expect(status == exitStatus, "\(screen)")
            #expect(try await tmux.display("watch", "#{alternate_on}") == "0", "left the alternate screen")
            #expect(try await tmux.display("watch", "#{cursor_flag}") == "1", "the cursor is shown again")
            #expect(try await tmux.display("watch", "#{pane_dead}") == "0", "the shell has its terminal back")
            #expect(screen.contains("before-watch"), "the screen from before is back: \(screen)")
            #expect(!screen.contains("STATE"), "no frame is left on the normal screen: \(screen)")
            #expect(screen.contains("terminal modes as before"), "echo is back on: \(screen)")
        }

        /// The screen's non-empty lines, trailing blanks removed.
        static func lines(of screen: String) -> [String] {
            var lines = screen.split(separator: "\n", omittingEmptySubsequences: false).map {
                String($0.reversed().drop { $0 == " " }.reversed())
            }
            while lines.last?.isEmpty == true { lines.removeLast() }
            return lines
        }

        /// The words of the table row that starts with `first` (e.g. the counts of a state).
        static func row(_ first: String, of screen: String) -> [String]? {
            lines(of: screen).map { $0.split(separator: " ").map(String.init) }.first { $0.first == first }
        }
    }
}
