import JobdProtocol
import JobdScheduler
import Testing

/// The profile maths and the signature rule, with plain values (DESIGN §3, issue 5).
struct ProfileTests {
    let band = ClassThresholds(upper: 0.6, lower: 0.3, weight: 0.3)
    let now = Timestamp(secondsSinceEpoch: 1_000)
    let later = Timestamp(secondsSinceEpoch: 2_000)

    /// Twelve burners on two cores: each got 0.17 of a core but was running or runnable all the time.
    /// The class follows the demand, so the signature that learned `io` from sleeping runs turns `cpu`
    /// (issue 10); the CPU ratio is kept beside it and the reason says both.
    @Test func theClassFollowsDemandNotTheShareOfACore() {
        var profile = Profile(signature: "/usr/bin/sh /srv/job.sh")
        profile.record(ratio: 0.0, demand: 0.0, at: now, thresholds: band)
        #expect(profile.learnedClass == .io)
        // 0.3, then 0.51, then 0.66: the third burner of a round crosses the band.
        for _ in 0..<3 { profile.record(ratio: 0.17, demand: 1.0, at: later, thresholds: band) }
        #expect(profile.cpuRatio < 0.3 && profile.demandRatio > 0.6 && profile.learnedClass == .cpu)
        #expect(profile.reason == "from 4 runs of /usr/bin/sh /srv/job.sh: 0.11 CPU-s per wall-s, 0.66 counting run-queue wait")

        var sleeper = Profile(signature: "/usr/bin/sleep")
        sleeper.record(ratio: 0.0, demand: 0.01, at: now, thresholds: band)
        #expect(sleeper.learnedClass == .io && sleeper.reason == "from 1 run of /usr/bin/sleep: 0.00 CPU-s per wall-s, 0.01 counting run-queue wait")
        var handler = Profile(signature: "sha256")
        handler.record(ratio: 0.9, at: now, thresholds: band)
        #expect(handler.demandRatio == 0.9, "no wait measured: the CPU ratio is the demand")
    }

    @Test func aRunningJobIsJudgedByItsDemand() {
        var profile = Profile(signature: "/usr/bin/sh /srv/job.sh")
        profile.record(ratio: 0.0, at: now, thresholds: band)
        profile.recordWhileRunning(ratio: 0.17, demand: 0.98, at: later, thresholds: band)
        #expect(profile.learnedClass == .cpu && profile.changedAt == later)
    }

    @Test func theFirstRunIsTakenAsIsAndDecidesOutsideTheBand() {
        var burner = Profile(signature: "/usr/bin/ffmpeg")
        burner.record(ratio: 0.95, at: now, thresholds: band)
        #expect(burner.runs == 1 && burner.cpuRatio == 0.95 && burner.learnedClass == .cpu && burner.changedAt == now)
        var sleeper = Profile(signature: "/usr/bin/sleep")
        sleeper.record(ratio: 0.01, at: now, thresholds: band)
        #expect(sleeper.learnedClass == .io)
        var undecided = Profile(signature: "/usr/bin/mixed")
        undecided.record(ratio: 0.45, at: now, thresholds: band)
        #expect(undecided.learnedClass == nil && undecided.effectiveClass == nil, "between the thresholds: no class yet")
    }

    @Test func theAverageMovesByTheWeight() {
        var profile = Profile(signature: "x")
        profile.record(ratio: 1.0, at: now, thresholds: band)
        profile.record(ratio: 0.0, at: now, thresholds: band)
        #expect(abs(profile.cpuRatio - 0.7) < 1e-9, "0.3 × 0 + 0.7 × 1")
        #expect(profile.runs == 2)
    }

    @Test func aRatioBetweenTheThresholdsKeepsTheClass() {
        var profile = Profile(signature: "x")
        profile.record(ratio: 1.0, at: now, thresholds: band)
        for _ in 0..<20 { profile.record(ratio: 0.45, at: later, thresholds: band) }
        #expect(abs(profile.cpuRatio - 0.45) < 0.01)
        #expect(profile.learnedClass == .cpu && profile.changedAt == now, "no flapping inside the band")
        // Crossing the lower threshold switches it, once.
        var runs = 0
        while profile.learnedClass == .cpu {
            profile.record(ratio: 0.0, at: later, thresholds: band)
            runs += 1
        }
        #expect(profile.learnedClass == .io && profile.changedAt == later)
        #expect(runs == 2, "0.45 → 0.315 → 0.22: the second run below 0.3 switches it")
        for _ in 0..<20 { profile.record(ratio: 0.5, at: now, thresholds: band) }
        #expect(profile.learnedClass == .io, "and back inside the band it stays io")
    }

    @Test func severalCoresAreCPUBoundAndShowTheirCount() {
        var profile = Profile(signature: "/usr/bin/make")
        profile.record(ratio: 1.84, at: now, thresholds: band)
        #expect(profile.learnedClass == .cpu)
        #expect(profile.reason == "from 1 run of /usr/bin/make: 1.84 CPU-s per wall-s")
    }

    @Test func aBurnWhileRunningSwitchesAnIOSignatureAtOnce() {
        var profile = Profile(signature: "x")
        for _ in 0..<10 { profile.record(ratio: 0.0, at: now, thresholds: band) }
        profile.recordWhileRunning(ratio: 0.98, at: later, thresholds: band)
        #expect(profile.learnedClass == .cpu && profile.changedAt == later)
    }

    @Test func aPinWinsOverWhatWasLearned() {
        var profile = Profile(signature: "x")
        profile.record(ratio: 0.0, at: now, thresholds: band)
        profile.pinned = .cpu
        #expect(profile.effectiveClass == .cpu)
        let decision = Classifier().classify(JobSpec(argv: ["x"]), declaredClass: nil, profile: profile)
        #expect(decision.class == .cpu && decision.source == .learned && decision.reason.contains("pinned"))
        let hinted = Classifier().classify(JobSpec(argv: ["x"], class: .io), declaredClass: nil, profile: profile)
        #expect(hinted.class == .io && hinted.source == .hint)
    }
}

struct SignatureTests {
    /// `./build.sh` and `build.sh` found in the same directory were learned as two signatures (issue 18).
    @Test func oneCommandFoundTwoWaysIsOneSignature() {
        let found: [String: String] = ["./build.sh": "/home/u/./build.sh", "build.sh": "/home/u/build.sh"]
        let relative = Signature.of(argv: ["./build.sh"], cwd: "/home/u") { found[$0] }
        let onPath = Signature.of(argv: ["build.sh"], cwd: "/home/u") { found[$0] }
        #expect(relative == "/home/u/build.sh" && relative == onPath)
    }

    /// Commands resolve as on a usual Debian PATH.
    func resolve(_ command: String) -> String? {
        command.hasPrefix("/") || command.hasPrefix(".") ? command : "/usr/bin/\(command)"
    }

    func signature(_ argv: String..., cwd: String? = "/home/u") -> String {
        Signature.of(argv: argv, cwd: cwd, resolve: resolve)
    }

    @Test func aCommandIsItsResolvedExecutable() {
        #expect(signature("ffmpeg", "-i", "a.mov", "a.webm") == "/usr/bin/ffmpeg")
        #expect(signature("/opt/bin/tool") == "/opt/bin/tool")
    }

    @Test func interpretersAreNamedWithTheirScript() {
        #expect(signature("python3", "train.py", "--epochs", "3") == "/usr/bin/python3 /home/u/train.py")
        #expect(signature("python3", "fetch.py") == "/usr/bin/python3 /home/u/fetch.py")
        #expect(signature("python3", "-u", "../x/train.py") == "/usr/bin/python3 /home/x/train.py")
        #expect(signature("python3", "-m", "http.server") == "/usr/bin/python3 -m http.server")
        #expect(signature("node", "server.js") == "/usr/bin/node /home/u/server.js")
        #expect(signature("bash", "/srv/build.sh") == "/usr/bin/bash /srv/build.sh")
        let code = signature("python3", "-c", "print(1)")
        #expect(code.hasPrefix("/usr/bin/python3 -c #") && code != signature("python3", "-c", "print(2)"))
    }

    @Test func shellCodeIsNamedByTheCommandItRuns() {
        #expect(signature("sh", "-c", "rsync -a /src host:/dst") == "/usr/bin/rsync")
        #expect(signature("sh", "-c", "exec python3 job.py; echo done") == "/usr/bin/python3 /home/u/job.py")
        let compound = signature("sh", "-c", "for f in *; do gzip $f; done")
        #expect(compound.hasPrefix("/usr/bin/sh -c #"))
    }

    @Test func launchersAreLookedThrough() {
        #expect(signature("env", "A=1", "-u", "B", "ffmpeg", "-i", "x") == "/usr/bin/ffmpeg")
        #expect(signature("nice", "-n", "10", "make", "-j4") == "/usr/bin/make")
        #expect(signature("timeout", "-s", "KILL", "30s", "curl", "-O", "u") == "/usr/bin/curl")
        #expect(signature("nohup", "nice", "python3", "a.py") == "/usr/bin/python3 /home/u/a.py")
        #expect(signature("env") == "/usr/bin/env", "a launcher with nothing to launch is itself")
    }

    @Test func handlerJobsAreTheirKind() {
        #expect(Signature.of(kind: "sha256") == "sha256")
    }
}
