import Foundation
import JobdClient
import JobdProtocol
import JobdTestSupport
import JobdVarlinkNIO
import Testing

extension AgainstTheRealDaemon {
    /// What a job process is, holds and outlives: identity, death signal, environment, descriptors, and the
    /// database lock across a crash (issue 9).
    @Suite struct ProcessIdentityTests {
        // MARK: - Jobs of another user die with the daemon

        @Test(
            .enabled(if: getuid() == 0, "needs root: a root daemon running a job as nobody"),
            arguments: ["--cpu", "--io"])
        func anotherUsersJobDiesWithAKilledDaemonAndRunsOnceAfterTheRestart(classFlag: String) async throws {
            try await DaemonProcess.with { daemon in
                let jobctl = try NobodyClient(daemon)
                // sleep sums its arguments: the tiny second one marks this job's process in /proc.
                let marker = "0.0000\(getpid())\(UInt32.random(in: 1000...UInt32.max))"
                defer { for pid in processes(withArgument: marker) { kill(pid, SIGKILL) } }
                let submitted = try await jobctl.run(["submit", "--json", classFlag, "--cwd", "/", "--", "/bin/sleep", "300", marker])
                let id = try jobID(printedBy: submitted)
                let first = try await eventually("the job runs") { () -> Int32? in processes(withArgument: marker).first }
                #expect(processOwner(first) == 65534, "the job runs as nobody")
                // The start is written behind the exec, not before it: a kill before that commit would
                // requeue a job whose attempt was never counted, and this test waits for the second one.
                try await eventually("its start is stored") { try await daemon.job(id).attempts == 1 ? true : nil }

                try await daemon.killHard()
                try await eventually("the job's process died with jobd (PR_SET_PDEATHSIG after setuid)") {
                    processes(withArgument: marker).isEmpty ? true : nil
                }

                try await daemon.start()
                try await eventually("the requeued job runs again") { try await daemon.job(id).attempts == 2 ? true : nil }
                let again = try await eventually("its process starts") { () -> [Int32]? in
                    let found = processes(withArgument: marker)
                    return found.isEmpty ? nil : found
                }
                #expect(again.count == 1, "one copy of the job runs, not two: \(again)")
                _ = try await daemon.jobctl("cancel", id.description)
            }
        }

        // MARK: - A restart after a crash

        @Test func aSecondJobdOnTheDatabaseWaitsThenNamesTheHolder() async throws {
            try await DaemonProcess.with { daemon in
                let other = try TempDirectory()
                defer { other.remove() }
                let started = ContinuousClock.now
                let result = try await runProgram(
                    Binaries.jobd,
                    ["--socket", other.file("jobd.sock"), "--database", daemon.database, "--lock-wait", "0.5"])
                #expect(ContinuousClock.now - started >= .milliseconds(500), "it waited for the lock")
                #expect(result.status != 0)
                #expect(result.stderr.contains("waiting up to 0.5s"), "\(result)")
                #expect(
                    result.stderr.contains("\(daemon.database).lock is held by another jobd (pid \(daemon.pid))"),
                    "\(result)")
                #expect(try await daemon.status().version == JobdInterface.version, "the first one is unaffected")
            }
        }

        @Test(.enabled(if: hasPython3, "needs /usr/bin/python3 to hold the lock in a child"))
        func aStartWaitsForTheLockWhileAChildOfADeadJobdStillHoldsIt() async throws {
            try await DaemonProcess.with { daemon in
                #expect(try await daemon.terminate() == 0)
                // What a kill -9 can leave: the process that took the lock is gone, a child still holds a
                // copy of its descriptor for a moment (here 1.5 s).
                let script = daemon.directory.file("hold.py")
                try """
                    import fcntl, os, sys, time
                    fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT, 0o600)
                    fcntl.flock(fd, fcntl.LOCK_EX)
                    child = os.fork()
                    if child == 0:
                        os.closerange(0, fd); os.closerange(fd + 1, 65536)  # only the lock: let the test go on
                        time.sleep(1.5)
                        os._exit(0)
                    print(child)
                    """.write(toFile: script, atomically: true, encoding: .utf8)
                let held = try await runProgram("/usr/bin/python3", [script, daemon.database + ".lock"])
                let child = try #require(Int32(held.output), "\(held)")
                let started = ContinuousClock.now
                try await daemon.start()
                #expect(ContinuousClock.now - started >= .seconds(1), "it waited for the lock")
                #expect(daemon.log.contains("jobd.db.lock is held by pid \(child) "), "\(daemon.log)")
                #expect(daemon.log.contains("waiting up to 10.0s"))
            }
        }

        @Test func kill9AndAnImmediateRestartUnderLoadAlwaysStartsAndLosesNothing() async throws {
            try await DaemonProcess.with { daemon in
                let acknowledged = IDs()
                let clients = (0..<3).map { client in
                    Task {
                        // noop runs in a worker (a process the pool spawns), /bin/true in the daemon's reactor:
                        // both paths vfork while the database lock is held.
                        let batch =
                            Array(repeating: JobSpec(kind: "noop", class: .cpu), count: 10)
                            + Array(repeating: JobSpec(argv: ["/bin/true"], class: .io), count: 10)
                        while !Task.isCancelled {
                            if let ids = try? await daemon.submit(batch) {
                                acknowledged.add(ids)
                            } else {
                                try? await Task.sleep(for: .milliseconds(5))
                            }
                        }
                        _ = client
                    }
                }
                for round in 1...10 {
                    let before = acknowledged.count
                    try await eventually("submits are acknowledged before kill \(round)", within: .seconds(20)) {
                        acknowledged.count > before ? true : nil
                    }
                    try await daemon.killHard()
                    try await daemon.start()
                }
                for client in clients { client.cancel() }
                for client in clients { await client.value }
                let ids = acknowledged.all
                #expect(ids.count >= 10 * 20)
                // Wait answers JobNotFound for an id it does not have: every acknowledged job exists and ends.
                let jobs = try await daemon.wait(ids, within: .seconds(120))
                #expect(jobs.count == ids.count)
                // Requeued jobs start first after a restart, so a few can be running at three kills in a row:
                // those end `dead` by the poison-job rule (FaultTests), with that reason; nothing else fails.
                let poisonReason = "the daemon stopped uncleanly 3 times while it ran"
                let unexpected = jobs.filter { !($0.state == .succeeded || ($0.state == .dead && $0.error == poisonReason)) }
                #expect(unexpected.isEmpty, "\(unexpected.prefix(3))")
            }
        }

        // MARK: - File descriptors

        @Test func aThousandIOJobsRunAtOnceUnderTheSystemdDefaultFileLimit() async throws {
            // systemd starts services with a soft limit of 1024; each running I/O job holds a pidfd and a pipe.
            try await DaemonProcess.with(arguments: ["--io-concurrency", "2000"], shellSetup: "ulimit -Sn 1024") { daemon in
                let limits = try String(contentsOfFile: "/proc/\(daemon.pid)/limits", encoding: .utf8)
                let line = limits.split(separator: "\n").first { $0.hasPrefix("Max open files") } ?? ""
                let numbers = line.split(separator: " ").compactMap { Int($0) }
                #expect(numbers.count == 2 && numbers[0] == numbers[1] && numbers[0] > 1024, "soft raised to hard: \(line)")
                #expect(daemon.log.contains("open file limit raised from 1024 to"), "\(daemon.log)")

                let ids = try await daemon.submit(Array(repeating: JobSpec(argv: ["sleep", "1"], class: .io), count: 1000))
                let jobs = try await daemon.wait(ids, within: .seconds(120))
                let failed = jobs.filter { $0.state != .succeeded }
                #expect(failed.count == 0, "\(failed.count) failed, e.g. \(failed.first.map { "\($0.error ?? "")" } ?? "")")
                #expect(daemon.isRunning)
                #expect(try await daemon.status().total.succeeded == 1000)
            }
        }

        @Test func aSpawnWithoutDescriptorsFailsThatJobAndTheDaemonCarriesOn() async throws {
            try await DaemonProcess.with(shellSetup: "ulimit -Sn 64; ulimit -Hn 64") { daemon in
                let ids = try await daemon.submit(Array(repeating: JobSpec(argv: ["sleep", "1"], class: .io), count: 80))
                let jobs = try await daemon.wait(ids, within: .seconds(60))
                let failed = jobs.filter { $0.state == .failed }
                #expect(failed.count > 0, "64 descriptors cannot hold 80 running jobs")
                for job in failed {
                    #expect(job.error?.hasPrefix("could not start: ") == true, "\(job.error ?? "")")
                    #expect(job.error?.contains("Too many open files") == true, "\(job.error ?? "")")
                }
                #expect(daemon.isRunning)
                #expect(try await daemon.status().version == JobdInterface.version)
                // Once the running ones are done, descriptors are back: a new job runs.
                let next = try await daemon.wait(try await daemon.submit([JobSpec(argv: ["true"], class: .io)]))[0]
                #expect(next.state == .succeeded, "\(next.error ?? "")")
            }
        }

        // MARK: - A daemon that is not root

        @Test(.enabled(if: getuid() == 0, "needs root: starts jobd as nobody and calls it as root"))
        func aDaemonThatIsNotRootServesOnlyItsOwnUser() async throws {
            let directory = try TempDirectory()
            defer { directory.remove() }
            #expect(chown(directory.path, 65534, 65534) == 0)
            let socket = directory.file("run/jobd.sock")
            let logFile = directory.file("jobd.log")
            _ = FileManager.default.createFile(atPath: logFile, contents: nil)
            let process = Process()
            process.executableURL = URL(fileURLWithPath: "/usr/bin/setpriv")
            process.arguments = [
                "--reuid=65534", "--regid=65534", "--clear-groups", Binaries.jobd, "--socket", socket, "--database",
                directory.file("jobd.db"),
            ]
            process.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: logFile))
            try process.run()
            defer {
                kill(process.processIdentifier, SIGKILL)
                process.waitUntilExit()
            }
            let log = { (try? String(contentsOfFile: logFile, encoding: .utf8)) ?? "" }
            try await eventually("jobd as nobody listens") { () -> Bool? in
                guard process.isRunning else { throw TimedOut("jobd exited: \(log())") }
                return log().contains("listening on") ? true : nil
            }

            var socketInfo = stat()
            var directoryInfo = stat()
            #expect(stat(socket, &socketInfo) == 0 && stat(directory.file("run"), &directoryInfo) == 0)
            #expect(socketInfo.st_uid == 65534 && socketInfo.st_mode & 0o777 == 0o600, "socket mode \(String(socketInfo.st_mode & 0o777, radix: 8))")
            #expect(directoryInfo.st_mode & 0o777 == 0o700, "directory mode \(String(directoryInfo.st_mode & 0o777, radix: 8))")

            // Root may open any socket: the daemon itself must refuse, for every method.
            for method in [Ping.method, Status.method] {
                do {
                    _ = try await JobdConnection.withConnection(path: socket) { connection in
                        try await connection.call(method, Ping.Parameters(), returning: JSONValue.self)
                    }
                    Issue.record("\(method) from root was served by a jobd running as nobody")
                } catch ClientError.remote(.permissionDenied(let message)) {
                    #expect(message.contains("serves only that user; use your own jobd"), "\(message)")
                }
            }
            let submitted = try await runProgram(Binaries.jobctl, ["--socket", socket, "submit", "--kind", "noop"])
            #expect(submitted.status == 77, "\(submitted)")

            // Its own user is served.
            let jobctl = directory.file("jobctl")
            try FileManager.default.copyItem(atPath: Binaries.jobctl, toPath: jobctl)
            let own = try await runProgram(
                "/usr/bin/setpriv", ["--reuid=65534", "--regid=65534", "--clear-groups", jobctl, "--socket", socket, "status"])
            #expect(own.status == 0, "\(own)")
        }

        /// A root daemon serves every user: the directory it creates for its socket is 0755 whatever its
        /// umask (077), so another user reaches the socket (before: 0700, and `Permission denied`).
        @Test(.enabled(if: getuid() == 0, "needs root: a root daemon, called as nobody"))
        func aRootDaemonsSocketDirectoryLetsEveryUserIn() async throws {
            try await DaemonProcess.with(launched: false) { daemon in
                #expect(chmod(daemon.directory.path, 0o711) == 0)
                let socket = daemon.directory.file("run/jobd/jobd.sock")
                try daemon.launch(extraArguments: ["--socket", socket])
                try await eventually("jobd answers on \(socket)") { () -> Bool? in
                    try await runProgram(Binaries.jobctl, ["--socket", socket, "status"]).status == 0 ? true : nil
                }
                var info = stat()
                #expect(stat(daemon.directory.file("run/jobd"), &info) == 0)
                #expect(info.st_mode & 0o777 == 0o755, "directory mode \(String(info.st_mode & 0o777, radix: 8))")
                let jobctl = daemon.directory.file("jobctl")
                try FileManager.default.copyItem(atPath: Binaries.jobctl, toPath: jobctl)
                let status = try await runProgram(
                    "/usr/bin/setpriv", ["--reuid=65534", "--regid=65534", "--clear-groups", jobctl, "--socket", socket, "status"])
                #expect(status.status == 0, "\(status)")
            }
        }

        /// A socket another user may not reach is "not allowed" (77), not "is it running?" (69) (issue 18).
        @Test(.enabled(if: getuid() == 0, "needs root: jobctl as nobody against a socket in a 0700 directory"))
        func jobctlTellsNotAllowedFromNotRunning() async throws {
            try await DaemonProcess.with(launched: false) { daemon in
                #expect(chmod(daemon.directory.path, 0o711) == 0)
                let closed = daemon.directory.file("private")
                try FileManager.default.createDirectory(atPath: closed, withIntermediateDirectories: false)
                #expect(chmod(closed, 0o700) == 0)
                let socket = closed + "/jobd.sock"
                try daemon.launch(extraArguments: ["--socket", socket])
                try await eventually("jobd answers on \(socket)") { () -> Bool? in
                    try await runProgram(Binaries.jobctl, ["--socket", socket, "status"]).status == 0 ? true : nil
                }
                let jobctl = daemon.directory.file("jobctl")
                try FileManager.default.copyItem(atPath: Binaries.jobctl, toPath: jobctl)
                func asNobody(_ path: String) async throws -> CommandResult {
                    try await runProgram(
                        "/usr/bin/setpriv", ["--reuid=65534", "--regid=65534", "--clear-groups", jobctl, "--socket", path, "status"])
                }
                let denied = try await asNobody(socket)
                #expect(denied.status == 77 && denied.stderr.contains("is not open to you"), "\(denied)")
                let nothing = try await asNobody(daemon.directory.file("none.sock"))
                #expect(nothing.status == 69 && nothing.stderr.contains("Is it running?"), "\(nothing)")
            }
        }

        // MARK: - What a job inherits

        @Test(
            .enabled(if: getuid() == 0, "needs root: a root daemon's clean environment for a job without env"),
            .enabled(if: hasPython3, "needs /usr/bin/python3 for a raw varlink call without env"))
        func aJobWithoutEnvGetsACleanEnvironmentOfItsOwnerNotTheDaemons() async throws {
            try await DaemonProcess.with(environment: ["JOBD_DAEMON_ONLY": "secret"]) { daemon in
                // root's own jobs, in the daemon and in a worker
                for jobClass in [JobClass.io, .cpu] {
                    let job = try await daemon.wait(try await daemon.submit([JobSpec(argv: ["/usr/bin/env"], cwd: "/", class: jobClass)]))[0]
                    #expect(job.state == .succeeded, "\(job.error ?? "")")
                    let variables = Set(try await daemon.jobctl("logs", job.id.description).stdout.split(separator: "\n").map(String.init))
                    #expect(!variables.contains { $0.hasPrefix("JOBD_DAEMON_ONLY=") }, "\(jobClass): \(variables)")
                    #expect(variables.isSuperset(of: ["HOME=/root", "USER=root", "LOGNAME=root"]), "\(jobClass): \(variables)")
                    #expect(variables.contains("PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"))
                }

                // nobody's, sent without env over the protocol (jobctl always sends its own)
                let nobody = try #require(passwdEntry(named: "nobody"))
                for jobClass in ["io", "cpu"] {
                    let reply = try await rawCallAsNobody(
                        daemon,
                        #"{"method":"io.jobd.Submit","parameters":{"jobs":[{"argv":["/usr/bin/env"],"cwd":"/","class":"\#(jobClass)"}]}}"#)
                    let ids = try WireJSON.decode([String: [String: [Int64]]].self, from: Array(reply.utf8))["parameters"]?["ids"]
                    let id = try #require(ids?.first, "\(reply)")
                    let job = try await daemon.wait([JobID(id)])[0]
                    #expect(job.state == .succeeded && job.ownerUID == 65534, "\(job.error ?? "")")
                    let variables = Set(try await daemon.jobctl("logs", job.id.description).stdout.split(separator: "\n").map(String.init))
                    #expect(!variables.contains { $0.hasPrefix("JOBD_DAEMON_ONLY=") }, "\(jobClass): \(variables)")
                    #expect(
                        variables == ["HOME=\(nobody.home)", "USER=nobody", "LOGNAME=nobody", "SHELL=\(nobody.shell)", "PATH=/usr/local/bin:/usr/bin:/bin"],
                        "\(jobClass): \(variables)")
                }
            }
        }

        @Test func aFileAJobCreatesIsReadableByOthers() async throws {
            try await DaemonProcess.with { daemon in
                for jobClass in [JobClass.io, .cpu] {
                    let file = daemon.directory.file("made-by-\(jobClass.rawValue)")
                    let job = try await daemon.wait(try await daemon.submit([JobSpec(argv: ["/usr/bin/touch", file], class: jobClass)]))[0]
                    #expect(job.state == .succeeded, "\(job.error ?? "")")
                    var info = stat()
                    #expect(stat(file, &info) == 0)
                    #expect(info.st_mode & 0o777 == 0o644, "\(jobClass): \(String(info.st_mode & 0o777, radix: 8)) (umask 022, not the daemon's 077)")
                }
            }
        }

        @Test(.enabled(if: getuid() == 0, "needs root: a root daemon looking up a command for nobody"))
        func aCommandBehindADirectoryTheSubmitterCannotSearchLooksMissing() async throws {
            try await DaemonProcess.with { daemon in
                let jobctl = try NobodyClient(daemon)
                let secret = daemon.directory.file("secretdir")
                try FileManager.default.createDirectory(atPath: secret, withIntermediateDirectories: false)
                #expect(chmod(secret, 0o700) == 0)
                let program = secret + "/prog"
                try "#!/bin/sh\necho ran\n".write(toFile: program, atomically: true, encoding: .utf8)
                #expect(chmod(program, 0o755) == 0)

                func failure(of path: String, _ classFlag: String) async throws -> (error: String, signature: String?) {
                    let id = try jobID(printedBy: try await jobctl.run(["submit", "--json", classFlag, "--cwd", "/", "--", path]))
                    let job = try await daemon.wait([id])[0]
                    #expect(job.state == .failed)
                    return ((job.error ?? "").replacingOccurrences(of: path, with: "PATH"), job.signature?.replacingOccurrences(of: path, with: "PATH"))
                }
                for classFlag in ["--io", "--cpu"] {
                    let hidden = try await failure(of: program, classFlag)
                    let missing = try await failure(of: secret + "/missing", classFlag)
                    #expect(hidden.error == "command not found: PATH", "\(classFlag): \(hidden)")
                    #expect(hidden.error == missing.error && hidden.signature == missing.signature, "\(classFlag): \(hidden) vs \(missing)")
                }
                // root, who may look, runs it
                let mine = try await daemon.wait(try await daemon.submit([JobSpec(argv: [program], class: .io)]))[0]
                #expect(mine.state == .succeeded, "\(mine.error ?? "")")
            }
        }
    }
}

// MARK: - Helpers

/// Whether the tests that drive a raw socket or hold a lock from a child can run.
let hasPython3 = FileManager.default.isExecutableFile(atPath: "/usr/bin/python3")

/// One varlink call sent as nobody over a raw socket (python3), so the request holds exactly what the
/// test wrote; returns the reply text.
func rawCallAsNobody(_ daemon: DaemonProcess, _ call: String) async throws -> String {
    #expect(chmod(daemon.directory.path, 0o711) == 0)
    let script = daemon.directory.file("call.py")
    try """
        import socket, sys
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.connect(sys.argv[1])
        s.sendall(sys.argv[2].encode() + b"\\0")
        reply = b""
        while not reply.endswith(b"\\0"):
            chunk = s.recv(65536)
            if not chunk: break
            reply += chunk
        sys.stdout.write(reply.rstrip(b"\\0").decode())
        """.write(toFile: script, atomically: true, encoding: .utf8)
    #expect(chmod(script, 0o644) == 0)
    let result = try await runProgram(
        "/usr/bin/setpriv", ["--reuid=65534", "--regid=65534", "--clear-groups", "/usr/bin/python3", script, daemon.socket, call])
    guard result.status == 0 else { throw TimedOut("the raw call failed: \(result)") }
    return result.stdout
}

/// A user's home and shell from /etc/passwd.
func passwdEntry(named name: String) -> (home: String, shell: String)? {
    guard let text = try? String(contentsOfFile: "/etc/passwd", encoding: .utf8) else { return nil }
    for line in text.split(separator: "\n") {
        let fields = line.split(separator: ":", omittingEmptySubsequences: false)
        if fields.count >= 7, fields[0] == name { return (String(fields[5]), String(fields[6])) }
    }
    return nil
}

/// Job ids acknowledged to concurrent clients.
final class IDs: @unchecked Sendable {
    private let lock = NSLock()
    private var ids: [JobID] = []
    func add(_ more: [JobID]) { lock.withLock { ids += more } }
    var count: Int { lock.withLock { ids.count } }
    var all: [JobID] { lock.withLock { ids } }
}

/// A copy of `jobctl` that nobody (uid 65534) may run, in the daemon's directory, which nobody may pass
/// through (0711) but not list.
struct NobodyClient {
    let daemon: DaemonProcess
    let path: String

    init(_ daemon: DaemonProcess) throws {
        self.daemon = daemon
        #expect(chmod(daemon.directory.path, 0o711) == 0)
        path = daemon.directory.file("jobctl")
        if !FileManager.default.fileExists(atPath: path) {
            try FileManager.default.copyItem(atPath: Binaries.jobctl, toPath: path)
        }
        #expect(chmod(path, 0o755) == 0)
    }

    /// Runs `jobctl --socket <the daemon's> ARGUMENTS` as nobody, with no supplementary groups.
    func run(_ arguments: [String]) async throws -> CommandResult {
        try await runProgram(
            "/usr/bin/setpriv",
            ["--reuid=65534", "--regid=65534", "--clear-groups", path, "--socket", daemon.socket] + arguments)
    }
}

/// The id `jobctl submit --json` printed.
func jobID(printedBy result: CommandResult) throws -> JobID {
    guard result.status == 0, let id = try WireJSON.decode([String: Int64].self, from: Array(result.stdout.utf8))["id"] else {
        throw TimedOut("submit did not print an id: \(result)")
    }
    return JobID(id)
}

/// Every live process with `argument` among its arguments (from /proc/PID/cmdline).
func processes(withArgument argument: String) -> [Int32] {
    let names = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
    return names.compactMap { name -> Int32? in
        guard let pid = Int32(name),
            let data = FileManager.default.contents(atPath: "/proc/\(name)/cmdline"),
            data.split(separator: 0).contains(where: { String(decoding: $0, as: UTF8.self) == argument })
        else { return nil }
        return pid
    }
}

/// The real uid of a process (the `Uid:` line of /proc/PID/status).
func processOwner(_ pid: Int32) -> UInt32? {
    guard let text = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8),
        let line = text.split(separator: "\n").first(where: { $0.hasPrefix("Uid:") })
    else { return nil }
    return line.split(whereSeparator: { $0 == "\t" || $0 == " " }).dropFirst().first.flatMap { UInt32($0) }
}
