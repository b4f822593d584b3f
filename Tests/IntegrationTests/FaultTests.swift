import Foundation
import JobdClient
import JobdVarlinkNIO
import JobdProtocol
import JobdTestSupport
import Synchronization
import Testing

extension AgainstTheRealDaemon {
    /// Faults the daemon must outlive without losing or repeating work (issue 9): a job that keeps
    /// crashing it, a shutdown that clients and handlers try to hold up, a disk that fills.
    @Suite struct FaultTests {
        @Test func aJobRunningAtThreeUncleanStopsInARowEndsDeadInsteadOfRunningAgain() async throws {
            try await DaemonProcess.with { daemon in
                let id = try await daemon.submit([JobSpec(argv: ["sleep", "300"])])[0]
                for crash in 1...3 {
                    try await eventually("attempt \(crash) runs", within: .seconds(10)) { () -> Bool? in
                        let job = try await daemon.job(id)
                        return job.state == .running && job.attempts == crash ? true : nil
                    }
                    try await daemon.killHard()
                    try await daemon.start()
                }
                let job = try await daemon.job(id)
                #expect(job.state == .dead, "\(job.state)")
                #expect(job.error == "the daemon stopped uncleanly 3 times while it ran")
                #expect(job.attempts == 3)
                let status = try await daemon.status()
                #expect(status.total.dead == 1 && status.total.running == 0 && status.total.queued == 0)
                #expect(daemon.log.contains("they end dead and do not run again"))
            }
        }

        @Test(.enabled(if: SystemTools.hasSQLite3, "needs /usr/bin/sqlite3; make deps installs it"))
        func anUncleanStopThatMissesAJobEndsItsCount() async throws {
            try await DaemonProcess.with(arguments: ["--cpu-workers", "1"]) { daemon in
                // The one worker executes the first job and holds the second, queued behind it.
                let first = try await daemon.submit([JobSpec(argv: ["sleep", "300"], class: .cpu)])[0]
                try await eventually("the first job runs") { try await daemon.job(first).state == .running ? true : nil }
                let second = try await daemon.submit([JobSpec(argv: ["sleep", "300"], class: .cpu)])[0]
                try await eventually("the second is handed over") {
                    try await daemon.status().workers.first?.queued == 1 ? true : nil
                }
                // These wait; after the restart their priority puts them ahead of the first two.
                let urgent = try await daemon.submit([
                    JobSpec(argv: ["sleep", "300"], class: .cpu, priority: 10),
                    JobSpec(argv: ["sleep", "300"], class: .cpu, priority: 10),
                ])
                try await daemon.killHard()
                try await daemon.start()
                // One worker: the first urgent job runs, the second waits in the worker behind it.
                try await eventually("the urgent jobs go first") { () -> Bool? in
                    let status = try await daemon.status()
                    guard status.workers.first?.queued == 1 else { return nil }
                    return try await daemon.job(urgent[0]).state == .running ? true : nil
                }
                #expect(try await daemon.job(first).state == .queued)
                #expect(try await daemon.job(second).state == .queued)
                // This crash finds the first two waiting: they did not cause it, so their count starts again.
                try await daemon.killHard()
                try await daemon.start()
                let rows = try await runProgram(
                    SystemTools.sqlite3, [daemon.database, "SELECT id, unclean_stops FROM jobs ORDER BY id"])
                // Only what ran counts a stop: the urgent job waiting in the worker was not running either.
                #expect(rows.stdout == "\(first)|0\n\(second)|0\n\(urgent[0])|1\n\(urgent[1])|0\n", "\(rows)")
            }
        }

        @Test func sigtermAnswersWaitingClientsAndEndsWithinItsBound() async throws {
            try await DaemonProcess.with { daemon in
                // A job that ignores SIGTERM, and a client waiting for it: neither may hold up the stop.
                let stubborn = try await daemon.submit(
                    [JobSpec(argv: ["sh", "-c", "trap '' TERM; while :; do sleep 0.1; done"], class: .io)])[0]
                try await eventually("the job runs") { try await daemon.job(stubborn).state == .running ? true : nil }
                async let waiter = daemon.jobctl("wait", stubborn.description)
                // jobctl connects in a few ms; the daemon shows no sign of a waiting client to poll for, and a
                // client that had not connected would exit 69, not 75, so this cannot pass by accident.
                try await Task.sleep(for: .milliseconds(500))
                let started = ContinuousClock.now
                // shutdown-grace 1 s + kill-grace 1 s + 1 s, and a little for a loaded machine.
                #expect(try await daemon.terminate(within: .seconds(6)) == 0)
                let took = ContinuousClock.now - started
                #expect(took < .seconds(5), "the drain took \(took)")
                let waited = try await waiter
                #expect(waited.status == 75, "the waiting client is told jobd is shutting down: \(waited)")
                #expect(waited.stderr.contains("shutting down"), "\(waited)")
            }
        }

        @Test func handlerJobsOnFIFOsCannotTakeTheDaemonsThreads() async throws {
            try await DaemonProcess.with { daemon in
                // Opening a FIFO nobody writes would block a thread in the kernel, where no stop reaches it;
                // a few hundred such jobs run in the daemon (--io) used to take every thread and freeze it.
                let fifo = daemon.directory.file("fifo")
                #expect(mkfifo(fifo, 0o600) == 0)
                let ids = try await daemon.submit(
                    Array(repeating: JobSpec(kind: "sha256", payload: .object(["path": .string(fifo)]), class: .io), count: 300))
                let jobs = try await daemon.wait(ids, within: .seconds(20))
                #expect(jobs.allSatisfy { $0.state == .failed }, "\(jobs.filter { $0.state != .failed }.prefix(2))")
                #expect(jobs.first?.error == "cannot open \(fifo): not a regular file (a FIFO, socket or device is refused)")
                // The daemon still runs handlers, answers, and stops in time.
                let file = daemon.directory.file("abc")
                try "abc".write(toFile: file, atomically: true, encoding: .utf8)
                let hashed = try await daemon.wait(
                    try await daemon.submit([JobSpec(kind: "sha256", payload: .object(["path": .string(file)]), class: .io)]))
                #expect(hashed.first?.state == .succeeded)
                let started = ContinuousClock.now
                #expect(try await daemon.terminate(within: .seconds(6)) == 0)
                #expect(ContinuousClock.now - started < .seconds(5))
            }
        }

        @Test(.enabled(if: getuid() == 0, "mounting a small tmpfs to fill needs root"))
        func aFullDiskRefusesSubmitsKeepsTheOutcomeAndRecovers() async throws {
            let disk = try TempDirectory()
            let mounted = try await runProgram("/bin/mount", ["-t", "tmpfs", "-o", "size=4m,mode=0700", "tmpfs", disk.path])
            try #require(mounted.status == 0, "\(mounted)")
            defer {
                _ = umount2(disk.path, Int32(MNT_DETACH))
                disk.remove()
            }
            try await DaemonProcess.with(arguments: ["--database", disk.file("jobd.db")]) { daemon in
                let acknowledged = try await daemon.submit((1...50).map { _ in JobSpec(argv: ["true"]) })
                _ = try await daemon.wait(acknowledged)
                // Jobs that run until told to end, writing no output (the logs live on the full disk too).
                let candidates = try await daemon.submit(
                    (1...4).map { index in
                        let go = daemon.directory.file("go\(index)")
                        return JobSpec(argv: ["sh", "-c", "while [ ! -e \(go) ]; do sleep 0.05; done"], class: .io)
                    })
                try await eventually("the jobs run") { try await daemon.status().io.running == 4 ? true : nil }

                // Fill the disk, then show that a submit is refused with "try again" and the daemon stays up.
                _ = try await runProgram("/bin/dd", ["if=/dev/zero", "of=\(disk.file("filler"))", "bs=64k"])
                // Until the log SQLite already holds is used up, commits still fit: those submits are acknowledged.
                var acceptedWhileFilling = 0
                let refused = try await eventually("a submit is refused", within: .seconds(10)) { () -> CommandResult? in
                    let result = try await daemon.jobctl("submit", "--", "true")
                    if result.status == 0 { acceptedWhileFilling += 1 }
                    return result.status == 75 ? result : nil
                }
                #expect(refused.stderr.contains("could not store"), "\(refused)")

                // A job ends while the disk is full: its outcome cannot be written and is kept, and a client
                // waiting for it is not answered until it is stored. An outcome may still fit in log space a
                // failed commit took (SQLite keeps it): the jobs end one at a time until one's write fails.
                let socket = daemon.socket
                var ended: (id: JobID, waiter: Task<[Job], any Error>, answered: Flag)?
                for (index, candidate) in candidates.enumerated() {
                    let answered = Flag()
                    let waiter = Task {
                        defer { answered.set() }
                        return try await JobdConnection.withConnection(path: socket) {
                            try await $0.call(Wait.method, Wait.Parameters(ids: [candidate]), returning: Wait.Reply.self).jobs
                        }
                    }
                    _ = FileManager.default.createFile(atPath: daemon.directory.file("go\(index + 1)"), contents: nil)
                    let failed = try await eventually("the outcome is stored or refused", within: .seconds(10)) { () -> Bool? in
                        if daemon.log.contains("job \(candidate): could not store its outcome (try 1)") { return true }
                        return answered.isSet ? false : nil
                    }
                    if failed {
                        ended = (candidate, waiter, answered)
                        break
                    }
                }
                let (id, waiter, answered) = try #require(ended, "no outcome write met the full disk")
                #expect(try await daemon.status().version == JobdInterface.version, "the daemon stays up")
                try await Task.sleep(for: .milliseconds(300))
                // A retry may fit where the first try's group did not: the waiter is then answered, but never
                // before the outcome was stored.
                if answered.isSet {
                    #expect(daemon.log.contains("job \(id): its outcome is stored at last"), "answered before stored: \(daemon.log)")
                }

                // Space returns: the kept outcome is written, the waiter sees it, submits work again.
                try FileManager.default.removeItem(atPath: disk.file("filler"))
                let finished = try await withDeadline("the outcome is stored", within: .seconds(15)) {
                    try await waiter.value
                }
                #expect(finished.first?.state == .succeeded, "\(finished)")
                #expect(daemon.log.contains("job \(id): its outcome is stored at last"))
                let next = try await daemon.jobctl("submit", "--wait", "--", "true")
                #expect(next.status == 0, "\(next)")
                for job in try await daemon.wait(acknowledged) { #expect(job.state == .succeeded) }
                for (index, candidate) in candidates.enumerated() where candidate != id {
                    _ = FileManager.default.createFile(atPath: daemon.directory.file("go\(index + 1)"), contents: nil)
                }
                _ = try await daemon.wait(candidates)

                // And it holds across a restart: nothing acknowledged was lost.
                #expect(try await daemon.terminate() == 0)
                try await daemon.start()
                #expect(try await daemon.job(id).state == .succeeded)
                let total = try await daemon.status().total
                #expect(total.succeeded == 55 + acceptedWhileFilling, "\(total)")
            }
        }
    }
}

/// A flag one task sets and another reads.
private final class Flag: Sendable {
    private let value = Mutex(false)
    func set() { value.withLock { $0 = true } }
    var isSet: Bool { value.withLock { $0 } }
}
