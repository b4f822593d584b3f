import Foundation
import JobdProtocol
import JobdTestSupport
import Testing

extension AgainstTheRealDaemon {
    /// How jobs run: failures that are the command's fault, limits, timeouts, captured output.
    @Suite struct RunningTests {
        @Test func commandsThatCannotRunFailTheirJobWithAClearError() async throws {
            try await DaemonProcess.with { daemon in
                let specs = [
                    JobSpec(argv: ["no-such-command-anywhere"]),
                    JobSpec(argv: ["/etc/passwd"]),
                    JobSpec(argv: ["/tmp"]),
                    JobSpec(argv: ["true"], cwd: "/no/such/directory"),
                    JobSpec(argv: ["sh", "-c", "kill -KILL $$"]),
                ]
                let jobs = try await daemon.wait(try await daemon.submit(specs))
                #expect(jobs.allSatisfy { $0.state == .failed })
                #expect(jobs[0].error == "command not found: no-such-command-anywhere")
                #expect(jobs[1].error == "not executable: /etc/passwd (permission denied)")
                #expect(jobs[2].error == "is a directory, not a command: /tmp")
                #expect(jobs[3].error == "could not start: chdir /no/such/directory: No such file or directory")
                #expect(jobs[4].signal == 9 && jobs[4].error == "killed by signal 9 (SIGKILL)")
                #expect(try await daemon.status().version == JobdInterface.version, "the daemon is unaffected")
            }
        }

        @Test func argvIsNotAShellStringAndEnvAndCwdApply() async throws {
            try await DaemonProcess.with { daemon in
                let directory = daemon.directory.path
                let id = try await daemon.submit([
                    JobSpec(argv: ["sh", "-c", "echo \"$GREETING\" \"$1\"; pwd", "sh", "a b; echo injected"],
                            env: ["GREETING": "hello", "PATH": "/usr/bin:/bin"], cwd: directory)
                ])[0]
                _ = try await daemon.wait([id])
                #expect(try await daemon.jobctl("logs", id.description).stdout == "hello a b; echo injected\n\(directory)\n")
            }
        }

        @Test func stdoutAndStderrAreCapturedAndCapped() async throws {
            try await DaemonProcess.with(arguments: ["--output-limit", "1000"]) { daemon in
                let id = try await daemon.submit([
                    // Two pipes have no order between them: the pause lets the daemon read "err" before the x's
                    // fill the limit, so the test checks the cap, not a race between the pipes.
                    JobSpec(argv: ["sh", "-c", "echo out; echo err >&2; sleep 0.3; head -c 5000 /dev/zero | tr '\\0' x"])
                ])[0]
                let job = try await daemon.wait([id])[0]
                #expect(job.state == .succeeded, "a job is never blocked by its own output")
                let logs = try await daemon.jobctl("logs", id.description)
                #expect(logs.stdout.hasPrefix("out\nerr\nxxx"))
                // Three runs (stdout, stderr, stdout) cost 12 bytes of index each, within the same limit.
                #expect(logs.stdout.utf8.count == 1000 - 3 * 12)
                #expect(logs.stderr.contains("output was longer"))
            }
        }

        @Test func aTimeoutKillsTheJob() async throws {
            try await DaemonProcess.with { daemon in
                let result = try await daemon.jobctl("submit", "--wait", "--timeout", "300ms", "--", "sleep", "300")
                #expect(result.status == 1, "\(result)")
                let job = try await daemon.job(JobID(1))
                #expect(job.state == .failed)
                #expect(job.error?.hasPrefix("timeout") == true, "\(String(describing: job.error))")
                #expect(job.signal == 15)
            }
        }

        @Test func cpuJobsNeverExceedTheirSlotsWhileIOJobsRunAlongside() async throws {
            try await DaemonProcess.with(arguments: ["--cpu-workers", "2"]) { daemon in
                let cpu = try await daemon.submit((0..<5).map { _ in JobSpec(argv: ["sleep", "0.4"], class: .cpu) })
                let io = try await daemon.submit((0..<5).map { _ in JobSpec(argv: ["sleep", "0.4"], class: .io) })
                var maxCPU = 0
                var maxExecuting = 0
                var ioRanWhileCPUFull = false
                try await eventually("every job finished", within: .seconds(10)) { () -> Bool? in
                    let status = try await daemon.status()
                    // `running` counts only jobs whose process runs; one queued in a worker is `queued`.
                    maxCPU = max(maxCPU, status.cpu.running)
                    maxExecuting = max(maxExecuting, status.workers.filter { $0.state == "busy" }.count)
                    if status.cpu.running == 2 && status.cpu.queued > 0 && status.io.running > 0 { ioRanWhileCPUFull = true }
                    return status.total.succeeded == 10 ? true : nil
                }
                #expect(maxExecuting == 2, "at most 2 CPU jobs ran at once")
                #expect(maxCPU == 2, "never more running than workers (each may hold one more, queued)")
                #expect(ioRanWhileCPUFull, "I/O jobs ran while CPU jobs waited")
                let jobs = try await daemon.wait(cpu + io)
                #expect(jobs.allSatisfy { $0.state == .succeeded })
            }
        }

        @Test func higherPriorityRunsFirst() async throws {
            try await DaemonProcess.with(arguments: ["--cpu-workers", "1"]) { daemon in
                let order = daemon.directory.file("order")
                // One blocker executes, the other is queued in the worker: the two after them wait their turn.
                let blocker = try await daemon.submit([
                    JobSpec(argv: ["sleep", "0.3"], class: .cpu), JobSpec(argv: ["sleep", "0.1"], class: .cpu),
                ])
                let ids = try await daemon.submit([
                    JobSpec(argv: ["sh", "-c", "echo low >> \(order)"], class: .cpu, priority: 0),
                    JobSpec(argv: ["sh", "-c", "echo high >> \(order)"], class: .cpu, priority: 10),
                ])
                _ = try await daemon.wait(blocker + ids)
                #expect(try String(contentsOfFile: order, encoding: .utf8) == "high\nlow\n")
            }
        }

        @Test func cpuTimeOfTheWholeTreeIsRecorded() async throws {
            try await DaemonProcess.with { daemon in
                // The CPU is burnt by a grandchild: rusage must include reaped descendants.
                let id = try await daemon.submit([
                    JobSpec(argv: ["sh", "-c", "sh -c 'i=0; while [ $i -lt 200000 ]; do i=$((i+1)); done'"])
                ])[0]
                let job = try await daemon.wait([id])[0]
                #expect(job.state == .succeeded)
                #expect((job.cpuSeconds ?? 0) > 0.05, "cpu seconds: \(String(describing: job.cpuSeconds))")
                #expect((job.wallSeconds ?? 0) >= (job.cpuSeconds ?? 0) * 0.5)
            }
        }
    }
}
