import Foundation
import JobdProtocol
import JobdTestSupport
import Testing

extension AgainstTheRealDaemon {
    /// The CPU pool (issue 4): real `jobd worker` processes behind the real daemon.
    @Suite struct WorkerPoolTests {
        @Test func theCPULimitHoldsWhileIOJobsRunBesideIt() async throws {
            try await DaemonProcess.with(arguments: ["--cpu-workers", "2"]) { daemon in
                let cpuIDs = try await daemon.submit(
                    (1...6).map { _ in JobSpec(argv: ["sleep", "0.3"], class: .cpu) })
                // Sample what runs until every CPU job is done; never more than two at once, and two at some point.
                var mostRunning = 0
                var mostBusy = 0
                var ioFinishedWhileCPUFull = false
                var ioID: JobID?
                try await eventually("six CPU jobs finished", within: .seconds(10)) { () -> Bool? in
                    let status = try await daemon.status()
                    mostRunning = max(mostRunning, status.cpu.running)
                    let busy = status.workers.filter { $0.state == "busy" }
                    mostBusy = max(mostBusy, busy.count)
                    if busy.count == 2 && ioID == nil {
                        ioID = try await daemon.submit([JobSpec(kind: "sleep", payload: .object(["seconds": .double(0.01)]))])[0]
                    }
                    if let ioID, !ioFinishedWhileCPUFull, status.cpu.queued + status.cpu.running >= 2 {
                        let job = try await daemon.job(ioID)
                        if job.state == .succeeded { ioFinishedWhileCPUFull = true }
                    }
                    return status.cpu.succeeded == 6 ? true : nil
                }
                // Two execute; each worker also holds the next one, which is queued until it begins (issue 18).
                #expect(mostRunning == 2, "running CPU jobs peaked at \(mostRunning)")
                #expect(mostBusy == 2, "busy workers peaked at \(mostBusy)")
                #expect(ioFinishedWhileCPUFull, "an I/O job finished while the CPU pool was full")
                let jobs = try await daemon.wait(cpuIDs)
                let workerPIDs = Set(jobs.compactMap(\.workerPID))
                #expect(workerPIDs.count == 2, "the jobs ran in the two workers: \(workerPIDs)")
                #expect(!workerPIDs.contains(daemon.pid))
            }
        }

        @Test func theSHA256HandlerRunsInAWorkerAndReturnsTheDigest() async throws {
            try await DaemonProcess.with { daemon in
                let file = daemon.directory.file("abc")
                try "abc".write(toFile: file, atomically: true, encoding: .utf8)
                let submitted = try await daemon.jobctl(
                    "submit", "--wait", "--kind", "sha256", "--payload", "{\"path\": \"\(file)\"}")
                #expect(submitted.status == 0, "\(submitted)")
                let job = try await daemon.job(JobID(1))
                #expect(job.state == .succeeded)
                #expect(job.class == .cpu && job.classSource == .kind)
                #expect(job.result?["sha256"]?.stringValue == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
                #expect(job.result?["bytes"] == .int(3))
                let workers = try await daemon.status().workers.compactMap(\.pid)
                #expect(job.workerPID.map(workers.contains) == true, "ran in worker \(String(describing: job.workerPID)) of \(workers)")

                let show = try await daemon.jobctl("show", "1")
                #expect(show.stdout.contains("ba7816bf"), "show prints the result: \(show.stdout)")
                let missing = try await daemon.jobctl("submit", "--wait", "--kind", "sha256", "--payload", "{\"path\": \"/no/such\"}")
                #expect(missing.status == 1)
                #expect(try await daemon.job(JobID(2)).error == "cannot open /no/such: No such file or directory")
                let bad = try await daemon.jobctl("submit", "--kind", "sha256", "--payload", "{}")
                #expect(bad.status == 65 && bad.stderr.contains("{\"path\": \"/absolute/file\"}"), "\(bad)")
            }
        }

        @Test func aKilledWorkerFailsItsJobAndIsReplaced() async throws {
            try await DaemonProcess.with(arguments: ["--cpu-workers", "1"]) { daemon in
                let id = try await daemon.submit([JobSpec(argv: ["sleep", "300"], class: .cpu)])[0]
                let worker = try await eventually("the worker is busy with the job") { () -> WorkerInfo? in
                    try await daemon.status().workers.first { $0.jobID == id && $0.state == "busy" }
                }
                let pid = try #require(worker.pid)
                #expect(kill(pid, SIGKILL) == 0)
                let job = try await daemon.wait([id])[0]
                #expect(job.state == .failed)
                #expect(job.error == "worker 1 (pid \(pid)) killed by signal 9 (SIGKILL) while running it")
                let replacement = try await eventually("a new worker fills slot 1") { () -> WorkerInfo? in
                    try await daemon.status().workers.first { $0.slot == 1 && $0.state == "idle" && $0.pid != pid }
                }
                let next = try await daemon.wait(try await daemon.submit([JobSpec(argv: ["true"], class: .cpu)]))[0]
                #expect(next.state == .succeeded && next.workerPID == replacement.pid)
                #expect(daemon.log.contains("killed by signal 9 (SIGKILL); starting a replacement"))
            }
        }

        @Test func timeoutAndCancelStopACPUJobsWholeProcessGroup() async throws {
            try await DaemonProcess.with(arguments: ["--cpu-workers", "1"]) { daemon in
                let pidFile = daemon.directory.file("child")
                let timed = try await daemon.submit([
                    JobSpec(argv: ["sh", "-c", "sleep 300 & echo $! > \(pidFile); wait"], class: .cpu, timeoutSeconds: 0.3)
                ])[0]
                let job = try await daemon.wait([timed])[0]
                #expect(job.state == .failed)
                #expect(job.error?.hasPrefix("timeout") == true, "\(String(describing: job.error))")
                let child = try #require(Int32((try String(contentsOfFile: pidFile, encoding: .utf8)).trimmingCharacters(in: .whitespacesAndNewlines)))
                try await eventually("the job's background child was killed too") { kill(child, 0) != 0 ? true : nil }

                let cancelled = try await daemon.submit([JobSpec(argv: ["sleep", "300"], class: .cpu)])[0]
                try await eventually("the job runs") { try await daemon.job(cancelled).state == .running ? true : nil }
                let result = try await daemon.jobctl("cancel", cancelled.description)
                #expect(result.status == 0, "\(result)")
                let ended = try await daemon.wait([cancelled])[0]
                #expect(ended.state == .cancelled)
                let workers = try await daemon.status().workers
                #expect(workers.count == 1 && workers[0].jobsRun == 2, "the same worker ran both: \(workers)")
            }
        }

        @Test func aWorkerThatDoesNotStopIsKilledAndReplaced() async throws {
            try await DaemonProcess.with(arguments: ["--cpu-workers", "1"]) { daemon in
                // A handler that never looks at its cancellation is what a stopped worker looks like from outside.
                let id = try await daemon.submit([JobSpec(kind: "sleep", payload: .object(["seconds": .int(300)]), class: .cpu)])[0]
                let worker = try await eventually("the worker is busy") { () -> WorkerInfo? in
                    try await daemon.status().workers.first { $0.jobID == id }
                }
                let pid = try #require(worker.pid)
                #expect(kill(pid, SIGSTOP) == 0)
                _ = try await daemon.jobctl("cancel", id.description)
                let job = try await daemon.wait([id])[0]
                #expect(job.state == .cancelled)
                #expect(job.error == "cancelled while running (its worker was killed)", "\(String(describing: job.error))")
                try await eventually("slot 1 has a new worker") { () -> Bool? in
                    try await daemon.status().workers.first { $0.slot == 1 && $0.state == "idle" && $0.pid != pid } != nil ? true : nil
                }
            }
        }

        /// The worker kills a job that ignores SIGTERM after jobd's --kill-grace, and lives on: workers never
        /// saw the flag (the parent command took it) and waited 5 s, so the pool killed them first.
        @Test func aCPUJobThatIgnoresSIGTERMIsKilledByItsWorkerAfterTheKillGrace() async throws {
            try await DaemonProcess.with(arguments: ["--cpu-workers", "1", "--kill-grace", "0.5"]) { daemon in
                let id = try await daemon.submit([
                    JobSpec(argv: ["sh", "-c", "trap '' TERM; while :; do sleep 0.1; done"], class: .cpu)
                ])[0]
                let worker = try await eventually("the job runs") { () -> WorkerInfo? in
                    try await daemon.status().workers.first { $0.jobID == id }
                }
                _ = try await daemon.jobctl("cancel", id.description)
                let job = try await daemon.wait([id])[0]
                #expect(job.state == .cancelled)
                #expect(job.error == "cancelled while running", "its worker killed it: \(String(describing: job.error))")
                #expect(job.signal == 9)
                #expect(try await daemon.status().workers.first?.pid == worker.pid, "the worker lives on")
            }
        }

        @Test func workersAreRecycledAfterMaxJobs() async throws {
            try await DaemonProcess.with(arguments: ["--cpu-workers", "1", "--worker-max-jobs", "2"]) { daemon in
                var pids: [Int32?] = []
                for _ in 1...3 {
                    let job = try await daemon.wait(try await daemon.submit([JobSpec(kind: "noop", class: .cpu)]))[0]
                    #expect(job.state == .succeeded)
                    pids.append(job.workerPID)
                }
                #expect(pids[0] != nil && pids[0] == pids[1], "the first worker ran two jobs: \(pids)")
                #expect(pids[2] != nil && pids[2] != pids[0], "then a fresh worker took over: \(pids)")
                #expect(!daemon.log.contains("starting a replacement"), "retiring is not a failure")
            }
        }

        @Test func aWorkerSendingAnOversizedFrameIsCutOffAndReplaced() async throws {
            // The daemon's limit lowered to 1 KiB: a result that carries a 3 KB error is then over it.
            try await DaemonProcess.with(
                arguments: ["--cpu-workers", "1"], environment: ["JOBD_TEST_WORKER_FRAME_LIMIT": "1024"]
            ) { daemon in
                let first = try #require(
                    try await daemon.wait(try await daemon.submit([JobSpec(kind: "noop", class: .cpu)]))[0].workerPID)
                let path = "/no/such/" + String(repeating: "directory/", count: 300)
                let id = try await daemon.submit([JobSpec(kind: "sha256", payload: .object(["path": .string(path)]))])[0]
                let job = try await daemon.wait([id])[0]
                #expect(job.state == .failed)
                #expect(
                    job.error?.contains("over the limit of 1024 bytes; it was killed while running this job") == true,
                    "\(String(describing: job.error))")
                let replacement = try await eventually("a new worker fills slot 1") { () -> Int32? in
                    try await daemon.status().workers.first { $0.state == "idle" && $0.pid != first }?.pid
                }
                let next = try await daemon.wait(try await daemon.submit([JobSpec(kind: "noop", class: .cpu)]))[0]
                #expect(next.state == .succeeded && next.workerPID == replacement)
            }
        }

        @Test func aJobQueuedInAWorkerIsCancelledBeforeItStartsAndItsTimeoutWaitsForItsTurn() async throws {
            try await DaemonProcess.with(arguments: ["--cpu-workers", "1"]) { daemon in
                let marker = daemon.directory.file("started")
                // One after the other: two jobs of one submit may reach the pool in either order.
                let front = try await daemon.submit([JobSpec(argv: ["sleep", "1"], class: .cpu)])[0]
                try await eventually("the first runs in the worker") { () -> Bool? in
                    try await daemon.status().workers.first?.jobID == front ? true : nil
                }
                let queued = try await daemon.submit([JobSpec(argv: ["sh", "-c", "echo started > \(marker)"], class: .cpu)])[0]
                let worker = try await eventually("the first runs and the second is handed to the same worker") {
                    () -> WorkerInfo? in
                    try await daemon.status().workers.first { $0.jobID == front && $0.queued == 1 }
                }
                #expect(try await daemon.job(queued).state == .queued, "handed ahead is not running")
                let counts = try await daemon.status().cpu
                #expect(counts.running == 1 && counts.queued == 1, "\(counts)")
                #expect(try await daemon.jobctl("cancel", queued.description).status == 0)
                // Answered by the worker at once, not after the job in front of it (1 s) nor the kill grace.
                let cancelled = try await daemon.wait([queued], within: .seconds(0.8))[0]
                #expect(cancelled.state == .cancelled)
                #expect(!FileManager.default.fileExists(atPath: marker), "the cancelled job never started")
                let status = try await daemon.status().workers
                #expect(status.first?.pid == worker.pid && status.first?.jobID == front, "the worker was left alone: \(status)")

                // A 0.5 s timeout counts from when the job starts, not from when it was queued behind a 1 s job.
                #expect(try await daemon.wait([front])[0].state == .succeeded)
                let blocker = try await daemon.submit([JobSpec(argv: ["sleep", "1"], class: .cpu)])[0]
                try await eventually("the 1 s job runs in the worker") { () -> Bool? in
                    try await daemon.status().workers.first?.jobID == blocker ? true : nil
                }
                let timed = try await daemon.submit([JobSpec(argv: ["true"], class: .cpu, timeoutSeconds: 0.5)])[0]
                let ended = try await daemon.wait([blocker, timed])
                #expect(ended.allSatisfy { $0.state == .succeeded }, "\(ended.map { ($0.state, $0.error) })")
            }
        }

        @Test func aJobQueuedInAKilledWorkerRunsOnceOnTheNext() async throws {
            try await DaemonProcess.with(arguments: ["--cpu-workers", "1"]) { daemon in
                let runs = daemon.directory.file("runs")
                // One after the other: two jobs of one submit may reach the pool in either order.
                var ids = try await daemon.submit([JobSpec(argv: ["sleep", "300"], class: .cpu)])
                try await eventually("the first runs in the worker") { () -> Bool? in
                    try await daemon.status().workers.first?.jobID == ids[0] ? true : nil
                }
                ids += try await daemon.submit([JobSpec(argv: ["sh", "-c", "echo ran >> \(runs)"], class: .cpu)])
                let worker = try await eventually("the first runs and the second is queued in the same worker") {
                    () -> WorkerInfo? in
                    try await daemon.status().workers.first { $0.jobID == ids[0] && $0.queued == 1 }
                }
                let pid = try #require(worker.pid)
                #expect(kill(pid, SIGKILL) == 0)
                let jobs = try await daemon.wait(ids)
                #expect(jobs[0].state == .failed)
                #expect(jobs[0].error == "worker 1 (pid \(pid)) killed by signal 9 (SIGKILL) while running it")
                #expect(jobs[1].state == .succeeded, "\(String(describing: jobs[1].error))")
                #expect(jobs[1].workerPID != nil && jobs[1].workerPID != pid)
                #expect(try String(contentsOfFile: runs, encoding: .utf8) == "ran\n", "it ran exactly once")
            }
        }

        @Test func aJobQueuedBehindALongOneMovesToAWorkerThatFreesUp() async throws {
            try await DaemonProcess.with(arguments: ["--cpu-workers", "2"]) { daemon in
                _ = try await daemon.wait(try await daemon.submit([JobSpec(kind: "noop", class: .cpu)]))
                try await eventually("both workers are up") { () -> Bool? in
                    try await daemon.status().workers.filter { $0.state == "idle" }.count == 2 ? true : nil
                }
                let long = try await daemon.submit([JobSpec(argv: ["sleep", "300"], class: .cpu)])[0]
                let other = try await daemon.submit([JobSpec(argv: ["sleep", "300"], class: .cpu)])[0]
                // Both workers busy: the next job is queued in worker 1, behind the long one.
                let queued = try await daemon.submit([JobSpec(argv: ["true"], class: .cpu)])[0]
                let freed = try await eventually("both run and the third is handed over") { () -> Int32? in
                    let workers = try await daemon.status().workers
                    guard workers.contains(where: { $0.queued == 1 }) else { return nil }
                    return workers.first { $0.jobID == other }?.pid
                }
                #expect(try await daemon.job(queued).state == .queued, "handed ahead is not running")
                #expect(try await daemon.jobctl("cancel", other.description).status == 0)
                let ran = try await daemon.wait([queued], within: .seconds(3))[0]
                #expect(ran.state == .succeeded, "\(String(describing: ran.error))")
                #expect(ran.workerPID == freed, "it ran on the worker that freed up")
                #expect(try await daemon.job(long).state == .running)
                _ = try await daemon.jobctl("cancel", long.description)
            }
        }

        @Test func aJobGetsItsOwnEnvironmentWhenTheFrameLeavesARepeatedOneOut() async throws {
            try await DaemonProcess.with(arguments: ["--cpu-workers", "1"]) { daemon in
                let print = ["sh", "-c", "echo \"${FOO-unset}\""]
                let ids = try await daemon.submit([
                    JobSpec(argv: print, env: ["FOO": "a", "PATH": "/usr/bin:/bin"], class: .cpu),
                    JobSpec(argv: print, env: ["FOO": "a", "PATH": "/usr/bin:/bin"], class: .cpu),
                    JobSpec(argv: print, env: ["FOO": "b", "PATH": "/usr/bin:/bin"], class: .cpu),
                    JobSpec(argv: print, env: ["PATH": "/usr/bin:/bin"], class: .cpu),
                    JobSpec(argv: print, env: ["PATH": "/usr/bin:/bin"], class: .cpu),
                ])
                let jobs = try await daemon.wait(ids)
                #expect(jobs.allSatisfy { $0.state == .succeeded }, "\(jobs.map(\.error))")
                var outputs: [String] = []
                for id in ids { outputs.append(try await daemon.jobctl("logs", id.description).stdout) }
                #expect(outputs == ["a\n", "a\n", "b\n", "unset\n", "unset\n"])
            }
        }

        @Test func idleWorkersStopAndTheNextCPUJobStartsThemAgain() async throws {
            try await DaemonProcess.with(arguments: ["--cpu-workers", "2"], environment: ["JOBD_TEST_WORKER_IDLE_SECONDS": "0.5"]) {
                daemon in
                let job = try await daemon.wait(try await daemon.submit([JobSpec(kind: "noop", class: .cpu)]))[0]
                #expect(job.state == .succeeded && job.workerPID != nil)
                let pids = try await eventually("both workers are up") { () -> [Int32]? in
                    let workers = try await daemon.status().workers
                    return workers.allSatisfy { $0.state == "idle" } ? workers.compactMap(\.pid) : nil
                }
                try await eventually("the idle workers stop", within: .seconds(5)) { () -> Bool? in
                    try await daemon.status().workers.allSatisfy { $0.state == "stopped" } ? true : nil
                }
                for pid in pids { try await eventually("worker \(pid) exited") { kill(pid, 0) != 0 ? true : nil } }
                #expect(!daemon.log.contains("starting a replacement"), "stopping idle workers is not a failure")
                let again = try await daemon.wait(try await daemon.submit([JobSpec(kind: "noop", class: .cpu)]))[0]
                #expect(again.state == .succeeded && again.workerPID.map { !pids.contains($0) } == true)
            }
        }

        @Test func workersDieWithTheDaemon() async throws {
            // Two, whatever the cores (the default is one per core).
            try await DaemonProcess.with(arguments: ["--cpu-workers", "2"]) { daemon in
                _ = try await daemon.wait(try await daemon.submit([JobSpec(kind: "noop", class: .cpu)]))
                let workers = try await eventually("workers are up") { () -> [Int32]? in
                    let pids = try await daemon.status().workers.compactMap(\.pid)
                    return pids.count == 2 ? pids : nil
                }
                try await daemon.killHard()
                for pid in workers {
                    try await eventually("worker \(pid) died with jobd") { kill(pid, 0) != 0 ? true : nil }
                }
            }
        }
    }
}

extension AgainstTheRealDaemon {
    /// A root daemon runs handlers for every user: it must read files only as the submitter could.
    @Suite struct HandlerPermissionTests {
        @Test(.enabled(if: getuid() == 0, "needs a root daemon and a second user (nobody)"))
        func aHandlerReadsFilesWithTheSubmittersPermissions() async throws {
            try await DaemonProcess.with { daemon in
                // nobody may pass through the test directory (to the socket) but not list it.
                #expect(chmod(daemon.directory.path, 0o711) == 0)
                let jobctl = daemon.directory.file("jobctl")
                try FileManager.default.copyItem(atPath: Binaries.jobctl, toPath: jobctl)
                #expect(chmod(jobctl, 0o755) == 0)
                let secret = daemon.directory.file("secret")
                try "root only".write(toFile: secret, atomically: true, encoding: .utf8)
                #expect(chmod(secret, 0o600) == 0)

                func submitAsNobody(_ path: String) async throws -> CommandResult {
                    try await runProgram(
                        "/usr/bin/setpriv",
                        ["--reuid=65534", "--regid=65534", "--clear-groups", jobctl, "--socket", daemon.socket, "submit",
                         "--json", "--kind", "sha256", "--payload", "{\"path\": \"\(path)\"}"])
                }
                func id(of result: CommandResult) throws -> JobID {
                    JobID(try WireJSON.decode([String: Int64].self, from: Array(result.stdout.utf8))["id"]!)
                }

                let denied = try await submitAsNobody(secret)
                #expect(denied.status == 0, "\(denied)")
                let deniedJob = try await daemon.wait([try id(of: denied)])[0]
                #expect(deniedJob.ownerUID == 65534)
                #expect(deniedJob.state == .failed)
                #expect(deniedJob.error == "cannot open \(secret): Permission denied", "\(String(describing: deniedJob.error))")

                let allowed = try await daemon.wait([try id(of: try await submitAsNobody("/etc/passwd"))])[0]
                #expect(allowed.state == .succeeded, "\(String(describing: allowed.error))")
                let expected = try await runProgram("/usr/bin/sha256sum", ["/etc/passwd"]).stdout.split(separator: " ").first
                #expect(allowed.result?["sha256"]?.stringValue == expected.map(String.init))

                // An exec job of nobody's runs as nobody, in the pool and in the daemon.
                for classFlag in ["--cpu", "--io"] {
                    let submitted = try await runProgram(
                        "/usr/bin/setpriv",
                        ["--reuid=65534", "--regid=65534", "--clear-groups", jobctl, "--socket", daemon.socket, "submit",
                         "--json", classFlag, "--cwd", "/", "--", "/usr/bin/id", "-u"])
                    let job = try await daemon.wait([try id(of: submitted)])[0]
                    #expect(job.state == .succeeded, "\(String(describing: job.error))")
                    #expect(try await daemon.jobctl("logs", job.id.description).stdout == "65534\n", "\(classFlag)")
                }

                // A user's pin steers only that user's jobs; a pin for everyone is for root or the daemon's user.
                func pinAsNobody(_ extra: [String]) async throws -> CommandResult {
                    try await runProgram(
                        "/usr/bin/setpriv",
                        ["--reuid=65534", "--regid=65534", "--clear-groups", jobctl, "--socket", daemon.socket, "profiles",
                         "pin", "/usr/bin/id", "cpu"] + extra)
                }
                let own = try await pinAsNobody([])
                #expect(own.status == 0, "\(own)")
                let everyone = try await pinAsNobody(["--everyone"])
                #expect(everyone.status == 77 && everyone.stderr.contains("only root may change it"), "\(everyone)")
                let seen = try await daemon.connect {
                    try await $0.call(Profiles.method, Profiles.Parameters(), returning: Profiles.Reply.self).profiles
                }
                #expect(seen.contains { $0.ownerUID == 65534 && $0.signature == "/usr/bin/id" && $0.pinned == .cpu })
                let rootsID = try await daemon.job(try await daemon.submit([JobSpec(argv: ["/usr/bin/id"])])[0])
                #expect(rootsID.classSource == .default, "nobody's pin does not classify root's job: \(rootsID.classSource)")

                // Status tells another user that a worker is busy, not with which of root's jobs.
                let busy = try await daemon.submit([JobSpec(argv: ["sleep", "300"], class: .cpu)])[0]
                try await eventually("root's job holds a worker") { () -> Bool? in
                    try await daemon.status().workers.contains { $0.jobID == busy } ? true : nil
                }
                let nobodysStatus = try await runProgram(
                    "/usr/bin/setpriv",
                    ["--reuid=65534", "--regid=65534", "--clear-groups", jobctl, "--socket", daemon.socket, "status", "--json"])
                let status = try WireJSON.decode(Status.Reply.self, from: Array(nobodysStatus.stdout.utf8))
                #expect(status.workers.contains { $0.state == "busy" }, "\(nobodysStatus)")
                #expect(status.workers.allSatisfy { $0.jobID == nil }, "\(nobodysStatus)")
                _ = try await daemon.jobctl("cancel", busy.description)

                // The same file for root, the daemon's own user, reads fine.
                let mine = try await daemon.wait(
                    try await daemon.submit([JobSpec(kind: "sha256", payload: .object(["path": .string(secret)]))]))[0]
                #expect(mine.state == .succeeded)
            }
        }
    }
}
