import Foundation
import JobdClient
import JobdVarlinkNIO
import JobdProtocol
import JobdTestSupport
import Testing

extension AgainstTheRealDaemon {
    /// Nothing is lost: across restarts, a kill -9, and start-up refusals.
    @Suite struct RecoveryTests {
        @Test func jobsAndOutcomesSurviveARestart() async throws {
            try await DaemonProcess.with { daemon in
                let ids = try await daemon.submit([JobSpec(argv: ["sh", "-c", "echo kept; exit 2"]), JobSpec(argv: ["true"])])
                let before = try await daemon.wait(ids)
                #expect(try await daemon.terminate() == 0, "SIGTERM exits 0")
                try await daemon.start()
                let after = try await ids.asyncMap { try await daemon.job($0) }
                #expect(after == before)
                #expect(try await daemon.jobctl("logs", ids[0].description).stdout == "kept\n")
                let status = try await daemon.status()
                #expect(status.total.failed == 1 && status.total.succeeded == 1, "counts are rebuilt at start-up")
                let next = try await daemon.submit([JobSpec(argv: ["true"])])
                #expect(next == [JobID(3)], "ids keep increasing")
            }
        }

        @Test func aJobRunningAtKill9IsRunAgainWithItsAttemptCounted() async throws {
            try await DaemonProcess.with { daemon in
                let marker = daemon.directory.file("runs")
                // Each run appends a line; the first run then hangs, the second finishes.
                let script = "echo run >> \(marker); [ $(wc -l < \(marker)) -ge 2 ] || sleep 300"
                let id = try await daemon.submit([JobSpec(argv: ["sh", "-c", script])])[0]
                try await eventually("the first attempt runs") { try await daemon.job(id).state == .running ? true : nil }
                try await eventually("the first attempt wrote its line") { FileManager.default.fileExists(atPath: marker) ? true : nil }
                try await daemon.killHard()
                try await daemon.start()
                let job = try await daemon.wait([id])[0]
                #expect(job.state == .succeeded)
                #expect(job.attempts == 2, "the interrupted attempt counts")
                #expect(try String(contentsOfFile: marker, encoding: .utf8) == "run\nrun\n")
                #expect(daemon.log.contains("requeued 1 jobs left running"))
            }
        }

        @Test func aJobsProcessesDieWithTheDaemon() async throws {
            try await DaemonProcess.with { daemon in
                let pidFile = daemon.directory.file("pid")
                let id = try await daemon.submit([JobSpec(argv: ["sh", "-c", "echo $$ > \(pidFile); exec sleep 300"])])[0]
                let pid = try await eventually("the job wrote its pid") { () -> Int32? in
                    (try? String(contentsOfFile: pidFile, encoding: .utf8)).flatMap { Int32($0.trimmingCharacters(in: .whitespacesAndNewlines)) }
                }
                _ = id
                try await daemon.killHard()
                try await eventually("the job's process died with jobd (PR_SET_PDEATHSIG)") { kill(pid, 0) != 0 ? true : nil }
            }
        }

        @Test(.enabled(if: SystemTools.hasSQLite3, "needs /usr/bin/sqlite3; make deps installs it"))
        func sigtermRequeuesWhatDoesNotFinishWithinTheGracePeriod() async throws {
            // Two CPU workers, whatever the cores: both jobs must run at once.
            try await DaemonProcess.with(arguments: ["--cpu-workers", "2"]) { daemon in
                let slow = try await daemon.submit([JobSpec(argv: ["sleep", "300"])])[0]
                let quick = try await daemon.submit([JobSpec(argv: ["sleep", "0.2"])])[0]
                try await eventually("both run") {
                    try await daemon.status().total.running == 2 ? true : nil
                }
                #expect(try await daemon.terminate() == 0, "SIGTERM drains and exits 0")
                // Straight from the file: the quick one finished within the grace period, the slow one is queued again.
                let rows = try await runProgram(
                    SystemTools.sqlite3, [daemon.database, "SELECT id, state, attempts, error FROM jobs ORDER BY id"])
                #expect(rows.stdout == "\(slow)|queued|1|jobd shut down while it ran; requeued for the next start\n\(quick)|succeeded|1|\n", "\(rows)")
            }
        }

        @Test func aSecondDaemonOnTheSameSocketIsRefused() async throws {
            try await DaemonProcess.with { daemon in
                let other = try TempDirectory()
                defer { other.remove() }
                let result = try await runProgram(
                    Binaries.jobd, ["--socket", daemon.socket, "--database", other.file("other.db")])
                #expect(result.status != 0)
                #expect(result.stderr.contains("another jobd is already serving \(daemon.socket)"), "\(result)")
                #expect(try await daemon.status().version == JobdInterface.version, "the first one is unaffected")
            }
        }

        @Test func aStaleSocketFileIsReplaced() async throws {
            try await DaemonProcess.with { daemon in
                try await daemon.killHard()
                #expect(FileManager.default.fileExists(atPath: daemon.socket), "kill -9 leaves the socket file")
                try await daemon.start()
                #expect(try await daemon.status().total.queued == 0)
            }
        }

        @Test(.enabled(if: SystemTools.hasSQLite3, "needs /usr/bin/sqlite3; make deps installs it"))
        func aDatabaseFromANewerJobdIsRefused() async throws {
            try await DaemonProcess.with { daemon in
                #expect(try await daemon.terminate() == 0)
                let sqlite = try await runProgram(
                    SystemTools.sqlite3,
                    [daemon.database, "INSERT INTO grdb_migrations (identifier) VALUES ('9999_from_the_future')"])
                #expect(sqlite.status == 0, "\(sqlite)")
                let refused = try await runProgram(Binaries.jobd, ["--socket", daemon.socket, "--database", daemon.database])
                #expect(refused.status != 0)
                #expect(refused.stderr.contains("was written by a newer jobd"), "\(refused)")
                #expect(refused.stderr.contains("9999_from_the_future"))
            }
        }

        /// A database whose directory cannot be made is refused in one line that names the path, the
        /// reason and what to do, not with Foundation's whole NSError.
        @Test func aDatabaseDirectoryThatCannotBeMadeIsRefusedInOneLine() async throws {
            try await DaemonProcess.with(launched: false) { daemon in
                let file = daemon.directory.file("a-file")
                FileManager.default.createFile(atPath: file, contents: Data())
                let refused = try await runProgram(
                    Binaries.jobd, ["--socket", daemon.socket, "--database", file + "/state/jobd.db"])
                #expect(refused.status != 0)
                #expect(refused.stderr.contains("cannot keep jobd's state in \(file)/state"), "\(refused)")
                #expect(refused.stderr.contains("Not a directory") && refused.stderr.contains("--database"), "\(refused)")
                #expect(!refused.stderr.contains("NSCocoaErrorDomain"), "\(refused)")
            }
        }

        /// A state directory another user can write is refused (issue 18, item 11): there they could put a
        /// link where jobd is about to write a job's output.
        @Test func aStateDirectoryOtherUsersCanWriteIsRefused() async throws {
            try await DaemonProcess.with(launched: false) { daemon in
                let shared = daemon.directory.file("shared")
                try FileManager.default.createDirectory(atPath: shared, withIntermediateDirectories: false)
                #expect(chmod(shared, 0o1777) == 0)
                let refused = try await runProgram(
                    Binaries.jobd, ["--socket", daemon.socket, "--database", shared + "/jobd.db"])
                #expect(refused.status == 1)
                #expect(refused.stderr.contains("cannot keep jobd's state in \(shared): other users may write it (mode 1777)"), "\(refused)")
                #expect(!FileManager.default.fileExists(atPath: shared + "/jobd.db"), "nothing was created there")

                // The database's directory is jobd's, but someone made its logs directory open to all.
                let own = daemon.directory.file("own")
                try FileManager.default.createDirectory(atPath: own + "/logs", withIntermediateDirectories: true)
                #expect(chmod(own + "/logs", 0o777) == 0)
                let logsRefused = try await runProgram(
                    Binaries.jobd, ["--socket", daemon.socket, "--database", own + "/jobd.db"])
                #expect(logsRefused.status == 1)
                #expect(logsRefused.stderr.contains("cannot keep jobd's state in \(own)/logs: other users may write it"), "\(logsRefused)")
            }
        }

        /// Every directory on the way to the state directory counts too (found in review, issue 18: under a
        /// directory another user owned, they swapped the database's directory for one whose logs/ led to
        /// /etc/logrotate.d).
        @Test(.enabled(if: getuid() == 0, "needs root to give a directory to nobody"))
        func aStateDirectoryUnderAnotherUsersDirectoryIsRefused() async throws {
            try await DaemonProcess.with(launched: false) { daemon in
                let theirs = daemon.directory.file("theirs")
                try FileManager.default.createDirectory(atPath: theirs, withIntermediateDirectories: false)
                #expect(chown(theirs, 65534, 65534) == 0)
                let refused = try await runProgram(
                    Binaries.jobd, ["--socket", daemon.socket, "--database", theirs + "/db/jobd.db"])
                #expect(refused.status == 1)
                #expect(refused.stderr.contains("\(theirs) belongs to uid 65534"), "\(refused)")
                // A link of theirs on the way is refused as well.
                let link = daemon.directory.file("link")
                try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: daemon.directory.path)
                #expect(lchown(link, 65534, 65534) == 0)
                let linked = try await runProgram(
                    Binaries.jobd, ["--socket", daemon.socket, "--database", link + "/state/jobd.db"])
                #expect(linked.status == 1 && linked.stderr.contains("is a link of uid 65534"), "\(linked)")
            }
        }

        /// A link in place of a job's log is never written through (the logs directory being jobd's own,
        /// only a mistake of root's could put one there).
        @Test func aLinkInPlaceOfAJobsLogIsNotFollowed() async throws {
            try await DaemonProcess.with { daemon in
                let victim = daemon.directory.file("victim")
                try "untouched\n".write(toFile: victim, atomically: true, encoding: .utf8)
                let next = try await daemon.submit([JobSpec(argv: ["true"], class: .io)])[0].rawValue + 1
                try FileManager.default.createSymbolicLink(atPath: daemon.directory.file("logs/\(next).log"), withDestinationPath: victim)
                let id = try await daemon.submit([JobSpec(argv: ["echo", "overwritten"], class: .io)])[0]
                #expect(id.rawValue == next)
                _ = try await daemon.wait([id])
                #expect(try String(contentsOfFile: victim, encoding: .utf8) == "untouched\n")
            }
        }
    }
}

extension Sequence {
    func asyncMap<T>(_ transform: (Element) async throws -> T) async rethrows -> [T] {
        var values: [T] = []
        for element in self { values.append(try await transform(element)) }
        return values
    }
}
