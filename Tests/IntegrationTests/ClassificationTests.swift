import Foundation
import JobdProtocol
import JobdTestSupport
import Testing

extension AgainstTheRealDaemon {
    /// jobd learns CPU or I/O from real runs (issue 5): real commands, the real daemon, no hints unless said.
    @Suite struct ClassificationTests {
        /// A script that burns CPU or sleeps for `seconds`, as its mode file says, so one signature can
        /// change behaviour between runs.
        static let work = """
            import sys, time
            mode, seconds = open(sys.argv[1]).read().split()
            seconds = float(seconds)
            end = time.time() + seconds
            if mode == "burn":
                while time.time() < end: pass
            elif mode == "half":
                while time.time() < end - seconds / 2: pass
                time.sleep(seconds / 2)
            else:
                time.sleep(seconds)
            """

        struct Script {
            let path: String
            let modeFile: String
            func set(_ mode: String, _ seconds: Double) throws {
                try "\(mode) \(seconds)".write(toFile: modeFile, atomically: true, encoding: .utf8)
            }
            var spec: JobSpec { JobSpec(argv: ["/usr/bin/python3", path, modeFile]) }
        }

        func script(_ name: String, in daemon: DaemonProcess) throws -> Script {
            let path = daemon.directory.file(name)
            try Self.work.write(toFile: path, atomically: true, encoding: .utf8)
            return Script(path: path, modeFile: path + ".mode")
        }

        func run(_ spec: JobSpec, on daemon: DaemonProcess) async throws -> Job {
            try await daemon.wait(try await daemon.submit([spec]))[0]
        }

        @Test func aBurnerLearnsCPUASleeperIOAndAHintStillWins() async throws {
            try await DaemonProcess.with { daemon in
                let burner = try script("burn.py", in: daemon)
                try burner.set("burn", 0.3)
                let sleeper = JobSpec(argv: ["sleep", "0.3"])
                let first = try await run(burner.spec, on: daemon)
                #expect(first.class == .cpu && first.classSource == .default, "nothing learned before the first run")
                _ = try await run(sleeper, on: daemon)
                _ = try await run(burner.spec, on: daemon)
                _ = try await run(sleeper, on: daemon)

                let nextBurn = try await daemon.job(try await daemon.submit([burner.spec])[0])
                #expect(nextBurn.class == .cpu && nextBurn.classSource == .learned, "\(String(describing: nextBurn.classReason))")
                #expect(nextBurn.classReason?.hasPrefix("from 2 runs of ") == true)
                // On a shared machine the CPU ratio may fall; the demand ("counting run-queue wait") does not.
                let reason = nextBurn.classReason ?? ""
                #expect(reason.hasSuffix("burn.py: 1.00 CPU-s per wall-s") || reason.contains("burn.py: 0.9")
                        || reason.contains(", 0.9") || reason.contains(", 1.0"),
                        "\(String(describing: nextBurn.classReason))")
                let nextSleep = try await daemon.job(try await daemon.submit([sleeper])[0])
                #expect(nextSleep.class == .io && nextSleep.classSource == .learned)
                #expect(nextSleep.signature == "/usr/bin/sleep")

                var hinted = burner.spec
                hinted.class = .io
                let hint = try await daemon.job(try await daemon.submit([hinted])[0])
                #expect(hint.class == .io && hint.classSource == .hint)

                let show = try await daemon.jobctl("show", nextBurn.id.description)
                #expect(show.stdout.contains("class      cpu (learned from 2 runs of "), "\(show.stdout)")
                let json = try await daemon.jobctl("show", "--json", nextSleep.id.description)
                #expect(json.stdout.contains("\"class_source\" : \"learned\""), "\(json.stdout)")
                #expect(json.stdout.contains("\"class_reason\" : \"from 2 runs of /usr/bin/sleep"))

                let profiles = try await daemon.jobctl("profiles", "--json")
                let decoded = try WireJSON.decode([Profile].self, from: Array(profiles.stdout.utf8))
                let sleepProfile = try #require(decoded.first { $0.signature == "/usr/bin/sleep" })
                #expect(sleepProfile.learnedClass == .io && sleepProfile.runs >= 2 && sleepProfile.cpuRatio < 0.1)
                for key in ["signature", "runs", "cpu_ratio", "class", "changed_at", "pinned"] {
                    #expect(profiles.stdout.contains("\"\(key)\""), "profiles --json has \(key)")
                }
            }
        }

        @Test func twoScriptsUnderOneInterpreterLearnApart() async throws {
            try await DaemonProcess.with { daemon in
                let train = try script("train.py", in: daemon)
                let fetch = try script("fetch.py", in: daemon)
                try train.set("burn", 0.3)
                try fetch.set("sleep", 0.3)
                _ = try await run(train.spec, on: daemon)
                _ = try await run(fetch.spec, on: daemon)
                let nextTrain = try await daemon.job(try await daemon.submit([train.spec])[0])
                let nextFetch = try await daemon.job(try await daemon.submit([fetch.spec])[0])
                #expect(nextTrain.class == .cpu && nextTrain.classSource == .learned)
                #expect(nextFetch.class == .io && nextFetch.classSource == .learned)
                #expect(nextTrain.signature?.hasSuffix(" \(train.path)") == true, "\(String(describing: nextTrain.signature))")
                #expect(nextTrain.signature != nextFetch.signature)
            }
        }

        @Test func aRatioBetweenTheThresholdsKeepsTheLearnedClass() async throws {
            try await DaemonProcess.with(arguments: ["--cpu-threshold", "0.8", "--io-threshold", "0.2"]) { daemon in
                let work = try script("mixed.py", in: daemon)
                try work.set("burn", 0.3)
                _ = try await run(work.spec, on: daemon)
                try work.set("half", 0.4)  // about 0.5 CPU-s per wall-s: inside the band
                for _ in 0..<4 { _ = try await run(work.spec, on: daemon) }
                let profiles = try await daemon.connect {
                    try await $0.call(Profiles.method, Profiles.Parameters(), returning: Profiles.Reply.self).profiles
                }
                let profile = try #require(profiles.first { $0.signature.hasSuffix("mixed.py") })
                #expect(profile.cpuRatio > 0.2 && profile.cpuRatio < 0.8, "the average sits in the band: \(profile.cpuRatio)")
                #expect(profile.learnedClass == .cpu, "and the class has not moved")
                let next = try await daemon.job(try await daemon.submit([work.spec])[0])
                #expect(next.class == .cpu && next.classSource == .learned)
            }
        }

        @Test func anIOJobThatBurnsCPUIsReclassifiedWhileItRuns() async throws {
            try await DaemonProcess.with(arguments: ["--reclassify-after", "0.5"]) { daemon in
                let work = try script("shifty.py", in: daemon)
                try work.set("sleep", 0.2)
                _ = try await run(work.spec, on: daemon)
                try work.set("burn", 3)
                let running = try await daemon.submit([work.spec])[0]
                #expect(try await daemon.job(running).class == .io, "learned io from its first run")
                let job = try await eventually("the running job is reclassified", within: .seconds(5)) { () -> Job? in
                    let job = try await daemon.job(running)
                    return job.classReason?.contains("reclassified while running") == true ? job : nil
                }
                #expect(job.state == .running, "it happened before the job ended")
                #expect(job.class == .io, "the running job itself stays where it runs")
                #expect(job.classReason?.contains("is now cpu; this job stays io") == true, "\(String(describing: job.classReason))")
                let next = try await daemon.job(try await daemon.submit([work.spec])[0])
                #expect(next.class == .cpu && next.classSource == .learned, "\(String(describing: next.classReason))")
                _ = try await daemon.jobctl("cancel", running.description, next.id.description)
            }
        }

        @Test func pinAndResetOverruleWhatWasLearnedAndSurviveARestart() async throws {
            try await DaemonProcess.with { daemon in
                _ = try await run(JobSpec(argv: ["sleep", "0.05"]), on: daemon)
                let pinned = try await daemon.jobctl("profiles", "pin", "/usr/bin/sleep", "cpu")
                #expect(pinned.status == 0 && pinned.stdout == "/usr/bin/sleep: pinned to cpu\n", "\(pinned)")
                #expect(try await daemon.terminate() == 0)
                try await daemon.start()
                let afterRestart = try await daemon.job(try await daemon.submit([JobSpec(argv: ["sleep", "0.05"])])[0])
                #expect(afterRestart.class == .cpu && afterRestart.classReason?.contains("pinned to cpu") == true)
                // Its run is recorded before Wait returns: a run still going would teach the profile again
                // after the reset below (a loaded machine made this test fail that way).
                _ = try await daemon.wait([afterRestart.id])

                #expect(try await daemon.jobctl("profiles", "reset", "/usr/bin/sleep").status == 0)
                let fresh = try await daemon.job(try await daemon.submit([JobSpec(argv: ["sleep", "0.05"])])[0])
                #expect(fresh.classSource == .default)
                let missing = try await daemon.jobctl("profiles", "reset", "/no/such")
                #expect(missing.status == 66 && missing.stderr.contains("no profile for /no/such"), "\(missing)")
                let badClass = try await daemon.jobctl("profiles", "pin", "/usr/bin/sleep", "gpu")
                #expect(badClass.status == 64)
            }
        }
    }
}
