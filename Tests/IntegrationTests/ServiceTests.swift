import Foundation
import JobdClient
import JobdVarlinkNIO
import JobdProtocol
import JobdTestSupport
import Testing

extension AgainstTheRealDaemon {
    /// jobd as a systemd service: the notify protocol, socket activation, the configuration file, reload.
    @Suite struct ServiceTests {
        // MARK: - Notify protocol

        @Test func tellsSystemdItIsReadyItsStatusThatItLivesAndThatItStops() async throws {
            let notifyDirectory = try TempDirectory()
            defer { notifyDirectory.remove() }
            let systemd = try NotifyListener(path: notifyDirectory.file("notify"))
            // 200 ms: a ping every 100 ms.
            let environment = ["NOTIFY_SOCKET": systemd.path, "WATCHDOG_USEC": "200000"]
            try await DaemonProcess.with(environment: environment, launched: false) { daemon in
                try daemon.launch()
                try await eventually("READY=1") { systemd.hasReceived("READY=1") ? true : nil }
                // Ready means serving: the first call, with no retry, is answered.
                _ = try await daemon.status()
                #expect(systemd.messages().first(where: { $0.hasPrefix("STATUS=") }) != nil)

                let ids = try await daemon.submit([JobSpec(argv: ["true"]), JobSpec(argv: ["true"])])
                _ = try await daemon.wait(ids)
                try await eventually("STATUS= shows both jobs done") {
                    systemd.hasReceived("STATUS=0 running (0 cpu, 0 io), 0 queued, 2 done") ? true : nil
                }

                let start = ContinuousClock.now
                let before = systemd.arrivals(of: "WATCHDOG=1").count
                try await eventually("ten more watchdog pings") {
                    systemd.arrivals(of: "WATCHDOG=1").count >= before + 10 ? true : nil
                }
                let elapsed = ContinuousClock.now - start
                #expect(elapsed > .milliseconds(800) && elapsed < .seconds(3), "a ping every 100 ms, took \(elapsed)")
                #expect(!systemd.hasReceived("STOPPING=1"))

                #expect(try await daemon.terminate() == 0)
                #expect(systemd.hasReceived("STOPPING=1"))
                let statusLines = systemd.messages().filter { $0.hasPrefix("STATUS=") }
                #expect(zip(statusLines, statusLines.dropFirst()).allSatisfy { $0 != $1 }, "STATUS= only on change")
            }
        }

        // MARK: - Socket activation

        /// systemd-socket-activate plays systemd's part: it listens on the path, then execs the command with
        /// the socket as fd 3 and LISTEN_PID/LISTEN_FDS set. jobd is held back until the test has submitted.
        @Test func servesTheSocketSystemdPassesAndAnswersACallMadeBeforeItStarted() async throws {
            try await DaemonProcess.with(
                wrapper: [
                    "/usr/bin/systemd-socket-activate", "-l", "{directory}/jobd.sock", "/bin/sh", "-c",
                    "while [ ! -e {directory}/go ]; do sleep 0.02; done; exec \"$0\" \"$@\"",
                ], launched: false
            ) { daemon in
                try daemon.launch()
                try await eventually("systemd-socket-activate listens") {
                    FileManager.default.fileExists(atPath: daemon.socket) ? true : nil
                }
                let socket = daemon.socket
                // Connected and sent while no jobd runs: the call waits in the socket's backlog.
                let submitted = Task {
                    try await JobdConnection.withConnection(path: socket) {
                        try await $0.call(
                            Submit.method, Submit.Parameters(jobs: [JobSpec(argv: ["true"])]), returning: Submit.Reply.self
                        ).ids
                    }
                }
                try await Task.sleep(for: .milliseconds(200))  // give the call time to reach the backlog first
                #expect(!daemon.log.contains("listening on"), "jobd has not started yet")
                _ = FileManager.default.createFile(atPath: daemon.directory.file("go"), contents: nil)
                let ids = try await withDeadline("the early submit is answered") { try await submitted.value }
                #expect(try await daemon.wait(ids)[0].state == .succeeded)
                #expect(daemon.log.contains("listening on the socket systemd passed (fd 3)"))
                // Workers inherit neither the LISTEN_* variables nor the listening socket.
                let workers = try await eventually("CPU workers run") { () -> [String]? in
                    let found = Self.children(of: daemon.pid)
                    return found.isEmpty ? nil : found
                }
                for worker in workers {
                    let environment = (try? String(contentsOfFile: "/proc/\(worker)/environ", encoding: .utf8)) ?? ""
                    #expect(!environment.contains("LISTEN_"), "worker \(worker)")
                    let fd3 = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(worker)/fd/3")
                    #expect(fd3?.hasPrefix("socket:") != true, "worker \(worker) holds the listening socket as fd 3")
                }
                #expect(try await daemon.terminate() == 0)
                #expect(FileManager.default.fileExists(atPath: socket), "a socket systemd owns is never removed")
            }
        }

        // MARK: - Configuration

        /// The default file is optional, so checking without one is no error (found walking the README).
        @Test(.enabled(
            if: getuid() == 0 && !FileManager.default.fileExists(atPath: "/etc/jobd/jobd.toml"),
            "root's default file is /etc/jobd/jobd.toml, and it must be absent"))
        func checkConfigWithoutTheOptionalDefaultFileIsValid() async throws {
            let checked = try await runProgram(Binaries.jobd, ["--check-config"])
            #expect(checked.status == 0 && checked.output.contains("no file; jobd runs on its defaults"), "\(checked)")
        }

        @Test func checkConfigAcceptsAGoodFileAndNamesTheLineOfEachError() async throws {
            let directory = try TempDirectory()
            defer { directory.remove() }
            let good = directory.file("good.toml")
            try "# a comment\ncpu-workers = 3\nio-threshold = 0.2\nworker-max-rss = \"2G\"\n".write(
                toFile: good, atomically: true, encoding: .utf8)
            let valid = try await runProgram(Binaries.jobd, ["--check-config", good])
            #expect(valid.status == 0, "\(valid)")

            let bad = directory.file("bad.toml")
            try "cpu-workers = \"3\"\nbogus = 1\n\nio-concurrency = 0\n".write(toFile: bad, atomically: true, encoding: .utf8)
            let invalid = try await runProgram(Binaries.jobd, ["--check-config", bad])
            #expect(invalid.status == 1)
            #expect(invalid.stderr.contains("\(bad): line 1: 'cpu-workers' takes an integer"), "\(invalid)")
            #expect(invalid.stderr.contains("\(bad): line 2: unknown key 'bogus'"), "\(invalid)")
            #expect(invalid.stderr.contains("\(bad): line 4: --io-concurrency is 1 to 1000000, got 0"), "\(invalid)")

            // What a reload would apply at once is bounded as at start: a value that would crash the daemon
            // (a conversion past Int64) or refuse every call (a message bound of 0) is an error of its line.
            for (line, message) in [
                ("reclassify-after = 1e300", "--reclassify-after is above 0 and at most 3600 seconds"),
                ("kill-grace = 1e300", "--shutdown-grace and --kill-grace are 0 to 86400 seconds"),
                ("max-message-bytes = 0", "--max-message-bytes is 65536 (64 KiB) to 67108864 (64 MiB)"),
                ("output-limit = -1", "--output-limit is 0 (keep no output)"),
                ("cpu-workers = 1000000", "--cpu-workers is 1 to 1024"),
                // Past it, a slot count plus the jobs claimed ahead overflowed and trapped in the claim.
                ("io-concurrency = 9223372036854775807", "--io-concurrency is 1 to 1000000"),
            ] {
                let file = directory.file("bounds.toml")
                try (line + "\n").write(toFile: file, atomically: true, encoding: .utf8)
                let checked = try await runProgram(Binaries.jobd, ["--check-config", file])
                #expect(checked.status == 1 && checked.stderr.contains(message), "\(line): \(checked)")
            }

            let broken = directory.file("broken.toml")
            try "cpu-workers = \n".write(toFile: broken, atomically: true, encoding: .utf8)
            let unparsable = try await runProgram(Binaries.jobd, ["--check-config", broken])
            #expect(unparsable.status == 1 && unparsable.stderr.contains("line 1:"), "\(unparsable)")

            let missing = try await runProgram(Binaries.jobd, ["--config", directory.file("missing.toml")])
            #expect(missing.status == 1 && missing.stderr.contains("cannot read the file"), "\(missing)")
        }

        @Test func aFlagWinsOverTheFile() async throws {
            let directory = try TempDirectory()
            defer { directory.remove() }
            let file = directory.file("jobd.toml")
            try "cpu-workers = 3\nio-concurrency = 7\n".write(toFile: file, atomically: true, encoding: .utf8)
            try await DaemonProcess.with(arguments: ["--config", file, "--cpu-workers", "2"]) { daemon in
                let status = try await daemon.status()
                #expect(status.cpuLimit == 2, "the flag wins")
                #expect(status.ioLimit == 7, "the file sets what no flag does")
            }
        }

        // MARK: - Reload

        @Test func sighupAppliesAChangedFileAndKeepsTheRunningConfigurationWhenTheFileIsBroken() async throws {
            let directory = try TempDirectory()
            defer { directory.remove() }
            let systemd = try NotifyListener(path: directory.file("notify"))
            let file = directory.file("jobd.toml")
            try "cpu-workers = 1\n".write(toFile: file, atomically: true, encoding: .utf8)
            try await DaemonProcess.with(arguments: ["--config", file], environment: ["NOTIFY_SOCKET": systemd.path]) {
                daemon in
                #expect(try await daemon.status().cpuLimit == 1)
                try "cpu-workers = 2\ndurability = \"full\"\n".write(toFile: file, atomically: true, encoding: .utf8)
                kill(daemon.pid, SIGHUP)
                try await eventually("the reload gives two CPU workers") {
                    let status = try await daemon.status()
                    return status.cpuLimit == 2 && status.workers.count == 2 ? true : nil
                }
                #expect(systemd.hasReceived("RELOADING=1") || systemd.messages().contains { $0.hasPrefix("RELOADING=1\nMONOTONIC_USEC=") })
                // READY=1 ends the reload, just after its settings apply: waited for, not raced.
                try await eventually("READY=1 again after the reload") {
                    systemd.arrivals(of: "READY=1").count >= 2 ? true : nil
                }
                try await eventually("the reload says what waits for a restart") {
                    daemon.log.contains("durability normal -> full needs a restart") ? true : nil
                }

                try "cpu-workers = 1\nbogus = true\n".write(toFile: file, atomically: true, encoding: .utf8)
                kill(daemon.pid, SIGHUP)
                try await eventually("the broken file is rejected") { daemon.log.contains("reload rejected") ? true : nil }
                #expect(try await daemon.status().cpuLimit == 2, "a broken file changes nothing")
                #expect(daemon.isRunning)

                // Fewer workers: the pool shrinks as well.
                try "cpu-workers = 1\n".write(toFile: file, atomically: true, encoding: .utf8)
                kill(daemon.pid, SIGHUP)
                try await eventually("the reload leaves one CPU worker") {
                    let status = try await daemon.status()
                    return status.cpuLimit == 1 && status.workers.count == 1 ? true : nil
                }
                let ids = try await daemon.submit([JobSpec(argv: ["true"]), JobSpec(argv: ["true"])])
                #expect(try await daemon.wait(ids).allSatisfy { $0.state == .succeeded }, "jobs still run on one worker")
            }
        }

        /// Issue 19: a reload applied only workers, thresholds and the log level; the grace periods, the
        /// output limit, the connection limits and the retention "needed a restart".
        @Test func sighupAppliesTheKillGraceOutputLimitConnectionLimitsAndRetentionLive() async throws {
            let directory = try TempDirectory()
            defer { directory.remove() }
            let file = directory.file("jobd.toml")
            try "kill-grace = 120.0\nshutdown-grace = 1.0\nretention = 0\n".write(toFile: file, atomically: true, encoding: .utf8)
            try await DaemonProcess.with(arguments: ["--config", file]) { daemon in
                // Ignores SIGTERM, and so do its children (an ignored signal stays ignored across exec).
                let stubborn = try await daemon.submit([
                    JobSpec(argv: ["sh", "-c", "trap '' TERM; while :; do sleep 0.1; done"], class: .io)
                ])[0]
                let early = try await daemon.submit([JobSpec(argv: ["true"], class: .io)])[0]
                _ = try await daemon.wait([early])
                try await eventually("the stubborn job runs") { try await daemon.job(stubborn).state == .running ? true : nil }

                try """
                    kill-grace = 0.5
                    shutdown-grace = 1.0
                    output-limit = 1000
                    max-connections-per-user = 3
                    retention = "1s"

                    """.write(toFile: file, atomically: true, encoding: .utf8)
                kill(daemon.pid, SIGHUP)
                try await eventually("the reload applies") {
                    daemon.log.contains("reloaded: ") && daemon.log.contains("kill-grace 120") ? true : nil
                }
                #expect(!daemon.log.contains("needs a restart"), "\(daemon.log)")

                // The kill grace of the moment of the stop: SIGKILL after 0.5 s, not two minutes.
                #expect(try await daemon.jobctl("cancel", stubborn.description).status == 0)
                #expect(try await daemon.wait([stubborn], within: .seconds(20))[0].state == .cancelled)

                // The output limit of the moment the job starts.
                let loud = try await daemon.submit([
                    JobSpec(argv: ["sh", "-c", "head -c 5000 /dev/zero | tr '\\0' x"], class: .io)
                ])[0]
                _ = try await daemon.wait([loud])
                let logs = try await daemon.jobctl("logs", loud.description)
                #expect(logs.stdout.utf8.count <= 1000, "capped at the new limit: \(logs.stdout.utf8.count) bytes")

                // The retention, at once: a job that finished before the reload is pruned a second after.
                try await eventually("the early job is pruned", within: .seconds(15)) {
                    try await daemon.jobctl("show", early.description).status == 66 ? true : nil
                }

                // The connection limits, for connections accepted after the reload.
                let held = try await admittedConnections(3, to: daemon.socket)
                defer { held.forEach { $0.close() } }
                let extra = try RawSocket(path: daemon.socket)
                defer { extra.close() }
                #expect(try await extra.nextMessage()?.contains("io.jobd.TooManyConnections") == true)
            }
        }

        /// Lowering cpu-workers lets the jobs of the slots above run to their end: they stay running in
        /// `status`, not queued (found in review, issue 19).
        @Test func jobsOfWorkersAboveALoweredCountStillShowRunning() async throws {
            let directory = try TempDirectory()
            defer { directory.remove() }
            let file = directory.file("jobd.toml")
            try "cpu-workers = 2\n".write(toFile: file, atomically: true, encoding: .utf8)
            try await DaemonProcess.with(arguments: ["--config", file]) { daemon in
                let ids = try await daemon.submit(Array(repeating: JobSpec(argv: ["sleep", "60"], class: .cpu), count: 2))
                try await eventually("both run") { try await daemon.status().cpu.running == 2 ? true : nil }
                try "cpu-workers = 1\n".write(toFile: file, atomically: true, encoding: .utf8)
                kill(daemon.pid, SIGHUP)
                try await eventually("the reload applies") { try await daemon.status().cpuLimit == 1 ? true : nil }
                let status = try await daemon.status()
                #expect(status.cpu.running == 2 && status.cpu.queued == 0, "\(status.cpu)")
                for id in ids { _ = try await daemon.jobctl("cancel", id.description) }
                _ = try await daemon.wait(ids)
            }
        }

        // MARK: - Logging

        @Test func linesForTheJournalCarryAPriorityAndNoTimestampAndLinesAboutAJobCarryItsID() async throws {
            try await DaemonProcess.with(arguments: ["--log-level", "debug"], launched: false) { daemon in
                // The log file is the daemon's stderr: name it as systemd names the journal stream.
                _ = FileManager.default.createFile(atPath: daemon.logFile, contents: nil)
                // stat(1)'s decimal st_dev, as systemd writes it (Foundation's deviceIdentifier is encoded otherwise).
                let identity = try await runProgram("/usr/bin/stat", ["-c", "%d:%i", daemon.logFile])
                daemon.environment["JOURNAL_STREAM"] = identity.output
                try await daemon.start()
                let id = try await daemon.submit([JobSpec(argv: ["true"])])[0]
                _ = try await daemon.wait([id])
                try await eventually("a line about the job") {
                    daemon.log.split(separator: "\n").contains { $0.hasPrefix("<7>") && $0.hasSuffix("job=\(id)") } ? true : nil
                }
                let lines = daemon.log.split(separator: "\n")
                #expect(lines.contains { $0.hasPrefix("<6>jobd ") && $0.contains("listening on") }, "\(lines)")
                #expect(lines.allSatisfy { $0.first == "<" }, "every line has a priority, none a timestamp: \(lines)")
            }
        }

        @Test func linesElsewhereCarryTheTimeAndLevel() async throws {
            try await DaemonProcess.with { daemon in
                let line = daemon.log.split(separator: "\n").first { $0.contains("listening on") } ?? ""
                #expect(line.hasPrefix("20") && line.contains(" info jobd "), "\(line)")
            }
        }

        // MARK: - Units and install

        /// The package's root folder, where the Makefile is.
        static let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().path

        /// Installs the built binaries into a staging root, with the units' ExecStart= pointing at the real
        /// binaries (BINDIR), so `systemd-analyze verify` finds them; the files go to DESTDIR all the same.
        static func install(into root: String) async throws -> CommandResult {
            try await runProgram(
                "/usr/bin/make",
                ["-C", packageRoot, "install", "DESTDIR=\(root)", "PREFIX=/usr", "BIN_DIR=\(Binaries.directory)",
                 "BINDIR=\(Binaries.directory)"])
        }

        @Test func makeInstallLaysOutEveryFileAndUninstallRemovesThem() async throws {
            let directory = try TempDirectory()
            defer { directory.remove() }
            let root = directory.file("root")
            let installed = try await Self.install(into: root)
            #expect(installed.status == 0, "\(installed)")
            let bin = root + Binaries.directory
            let expected = [
                "\(bin)/jobd", "\(bin)/jobctl",
                "\(root)/usr/lib/systemd/system/jobd.service", "\(root)/usr/lib/systemd/system/jobd.socket",
                "\(root)/usr/lib/systemd/user/jobd.service", "\(root)/usr/lib/systemd/user/jobd.socket",
                "\(root)/usr/lib/sysusers.d/jobd.conf", "\(root)/usr/lib/tmpfiles.d/jobd.conf",
                "\(root)/usr/share/doc/jobd/jobd.toml.example", "\(root)/usr/share/doc/jobd/README.md",
                "\(root)/usr/share/man/man1/jobctl.1", "\(root)/usr/share/man/man8/jobd.8",
                "\(root)/usr/share/bash-completion/completions/jobctl", "\(root)/usr/share/zsh/site-functions/_jobctl",
                "\(root)/usr/share/fish/vendor_completions.d/jobctl.fish",
            ]
            for file in expected {
                let size = (try? FileManager.default.attributesOfItem(atPath: file)[.size] as? Int) ?? nil
                #expect((size ?? 0) > 0, "\(file) is installed and not empty")
            }
            #expect(FileManager.default.isExecutableFile(atPath: "\(bin)/jobd"))
            let bash = try String(contentsOfFile: expected[12], encoding: .utf8)
            #expect(bash.contains("submit"), "the completion knows jobctl's subcommands")
            let unit = try String(contentsOfFile: expected[2], encoding: .utf8)
            #expect(unit.contains("ExecStart=\(Binaries.directory)/jobd ") && !unit.contains("@BINDIR@"))

            let removed = try await runProgram(
                "/usr/bin/make",
                ["-C", Self.packageRoot, "uninstall", "DESTDIR=\(root)", "PREFIX=/usr", "BINDIR=\(Binaries.directory)"])
            #expect(removed.status == 0, "\(removed)")
            for file in expected { #expect(!FileManager.default.fileExists(atPath: file), "\(file) is removed") }
        }

        /// systemd-analyze exits 0 on an unknown key (a warning only), so its stderr must be empty too.
        @Test func everyUnitPassesSystemdAnalyzeVerify() async throws {
            let directory = try TempDirectory()
            defer { directory.remove() }
            let root = directory.file("root")
            let installed = try await Self.install(into: root)
            #expect(installed.status == 0, "\(installed)")
            let runtime = directory.file("runtime")
            try FileManager.default.createDirectory(atPath: runtime, withIntermediateDirectories: true)
            var environment = ProcessInfo.processInfo.environment
            environment["XDG_RUNTIME_DIR"] = runtime  // the user manager's %t
            for (folder, scope) in [("system", [String]()), ("user", ["--user"])] {
                let units = ["jobd.service", "jobd.socket"].map { "\(root)/usr/lib/systemd/\(folder)/\($0)" }
                // The man pages are in the staging root, not where man(1) looks.
                let verify = try await runProgram(
                    "/usr/bin/systemd-analyze", ["verify", "--man=no"] + scope + units, environment: environment)
                #expect(verify.status == 0 && verify.stderr.isEmpty && verify.stdout.isEmpty, "\(folder): \(verify)")
            }
        }

        /// Every key of the example is valid with its default, and every daemon flag is in the example.
        @Test func theExampleConfigurationListsEveryKeyWithAValidDefault() async throws {
            let example = try String(contentsOfFile: Self.packageRoot + "/systemd/jobd.toml.example", encoding: .utf8)
            // "# key = value" lines; prose lines have more than one word before " = ".
            let settings = example.split(separator: "\n").map { String($0.dropFirst(2)) }
                .filter { line in
                    let key = line.prefix { $0 != " " }
                    return line.hasPrefix(key + " = ") && !key.isEmpty && key.allSatisfy { $0.isLowercase || $0 == "-" }
                }
            let keys = Set(settings.map { String($0.prefix { $0 != " " }) })
            let help = try await runProgram(Binaries.jobd, ["--help"])
            let flags = Set(
                help.stdout.split(whereSeparator: { !($0.isLetter || $0 == "-") }).filter { $0.hasPrefix("--") }
                    .map { String($0.dropFirst(2)) })
                .subtracting(["help", "version", "config", "check-config"])
            #expect(keys == flags, "only in the example: \(keys.subtracting(flags)); missing: \(flags.subtracting(keys))")
            let directory = try TempDirectory()
            defer { directory.remove() }
            let file = directory.file("all.toml")
            try settings.joined(separator: "\n").write(toFile: file, atomically: true, encoding: .utf8)
            let checked = try await runProgram(Binaries.jobd, ["--check-config", file])
            #expect(checked.status == 0, "\(checked)")
        }

        /// The pids whose parent is `pid`, from /proc/PID/stat (read directly: no subprocess to wait for).
        static func children(of pid: Int32) -> [String] {
            let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
            return entries.filter { entry in
                guard entry.allSatisfy(\.isNumber),
                    let stat = try? String(contentsOfFile: "/proc/\(entry)/stat", encoding: .utf8),
                    let close = stat.lastIndex(of: ")")
                else { return false }
                // After "pid (comm)": state, then the parent's pid.
                let fields = stat[stat.index(after: close)...].split(separator: " ")
                return fields.count > 1 && fields[1] == "\(pid)"
            }
        }

        @Test func sendsNothingWithoutANotifySocket() async throws {
            try await DaemonProcess.with { daemon in
                let status = try await daemon.terminate()
                #expect(status == 0)
                #expect(!daemon.log.contains("sd_notify"))
            }
        }
    }
}
