import JobdHandlers
import JobdProtocol
import JobdRunners
import JobdScheduler
import JobdStore

extension Responder {
    /// Validates every job, stores them in one transaction, and only then replies and queues them.
    func submit(_ parameters: Submit.Parameters, caller: Caller) async throws -> Submit.Reply {
        guard !parameters.jobs.isEmpty else { throw JobdError.invalidParameter("jobs") }
        let newJobs = try await admit(parameters.jobs, caller: caller, at: WallClock.now())
        // Reply only after commit: a client that saw an id must find the job after a crash.
        let stored = try await storeAndQueue(newJobs) { claim in try await store.submit(newJobs, claiming: claim) }
        let existing = stored.existing.sorted().map { stored.ids[$0] }
        return Submit.Reply(ids: stored.ids, existing: existing.isEmpty ? nil : existing)
    }

    /// What a submit of `specs` by `caller` would store: every spec checked (an `InvalidJob` names the
    /// first bad one), its queue numbered, its class decided. Submit and a schedule's firing share it.
    func admit(_ specs: [JobSpec], caller: Caller, at now: Timestamp) async throws -> [NewJob] {
        let daemonUID = SystemInfo.userID
        var kinds: [JobKind] = []
        kinds.reserveCapacity(specs.count)
        for (index, spec) in specs.enumerated() {
            if let problem = spec.validate(at: now) { throw JobdError.invalidJob(index: index, reason: problem) }
            // A batch refers to its own earlier jobs by index, so a pipeline is one call and cannot loop.
            if let bad = spec.afterIndex?.first(where: { $0 < 0 || $0 >= index }) {
                let earlier = index == 0 ? "it is the call's first job" : "earlier jobs are 0...\(index - 1)"
                throw JobdError.invalidJob(
                    index: index, reason: "after_index \(bad) names no earlier job of this call (\(earlier))")
            }
            guard let kind = registry.kind(named: spec.resolvedKind) else {
                throw JobdError.invalidJob(
                    index: index,
                    reason: "unknown kind \"\(spec.resolvedKind)\"; this jobd runs: \(registry.names.joined(separator: ", "))")
            }
            if case .handler(let handler) = kind, let problem = handler.validate(spec.payload ?? .null) {
                throw JobdError.invalidJob(index: index, reason: problem)
            }
            // A daemon that is not root cannot run a command as anyone but itself.
            if case .exec = kind, daemonUID != 0 && caller.uid != daemonUID {
                throw JobdError.permissionDenied(
                    "this jobd runs as uid \(daemonUID) and accepts exec jobs only from that user; "
                        + "use your own jobd (systemctl --user start jobd) or the system one")
            }
            kinds.append(kind)
        }
        // Signatures and profiles: one lookup of each command per call, one hop to the profiles.
        var signatures = SignatureCache(caller: caller, daemonUID: daemonUID)
        var jobSignatures: [String] = []
        jobSignatures.reserveCapacity(specs.count)
        for spec in specs { jobSignatures.append(await signatures.signature(of: spec)) }
        let profiles = await profileBook.profiles(for: Set(jobSignatures), owner: caller.uid)
        var newJobs: [NewJob] = []
        newJobs.reserveCapacity(specs.count)
        for (index, spec) in specs.enumerated() {
            let decision = classifier.classify(
                spec, declaredClass: kinds[index].declaredClass, profile: profiles[jobSignatures[index]])
            newJobs.append(
                NewJob(
                    spec: spec, class: decision.class, classSource: decision.source, classReason: decision.reason,
                    signature: jobSignatures[index], ownerUID: caller.uid, ownerGID: caller.gid, createdAt: now))
        }
        // Root and the daemon's own user are not bound to a number of queues: they can set limits and
        // pauses on any queue anyway. The store checks the bounds in the submit's own transaction.
        if caller.isRoot || caller.uid == daemonUID {
            for index in newJobs.indices { newJobs[index].queuesBounded = false }
        }
        return newJobs
    }

    /// Runs `write` (a store call that stores `newJobs`, as ``admit(_:caller:at:)`` admitted them, and
    /// claims what the dispatcher's free slots may take in the same transaction), turns a refusal into the
    /// `InvalidJob` it is, and hands what was stored and claimed to the dispatcher.
    func storeAndQueue(
        _ newJobs: [NewJob], _ write: @Sendable (ClaimRequest?) async throws -> (stored: SubmitResult, claim: Claim?)
    ) async throws -> SubmitResult {
        // Refused here while draining (the submit stores nothing), and not before admit: one hop less.
        let reserved = try await dispatcher.reserveSlots(for: newJobs)
        let stored: SubmitResult
        let claim: Claim?
        do {
            (stored, claim) = try await write(reserved?.request)
        } catch {
            await dispatcher.giveBack(reserved)
            if let refusal = error as? SubmitRefusal { throw Self.invalidJob(refusal) }
            throw error
        }
        var accepted: [Job] = []
        accepted.reserveCapacity(newJobs.count)
        for (index, job) in newJobs.enumerated() where !stored.existing.contains(index) && index < stored.ids.count {
            accepted.append(job.record(id: stored.ids[index], waiting: stored.waitsFor[index] != nil))
        }
        await dispatcher.accept(accepted, claimed: claim, reserved: reserved)
        if newJobs.count >= Self.largeSubmit { SystemInfo.trimHeap() }
        return stored
    }

    /// A submit of this many jobs or more gives the heap's free pages back after it (``SystemInfo/trimHeap()``).
    static let largeSubmit = 1000

    /// What the client is told of a submit the store refused.
    static func invalidJob(_ refusal: SubmitRefusal) -> JobdError {
        switch refusal {
        case .unknownDependency(let index, let id):
            return .invalidJob(index: index, reason: "it waits for job \(id), and you have no job \(id)")
        case .dependencyEnded(let index, let id, let state):
            return .invalidJob(
                index: index, reason: "it waits for job \(id), which ended \(state.rawValue), so it could never run")
        case .tooManyQueues(let index, let held):
            return .invalidJob(
                index: index,
                reason: "your waiting and running jobs use \(held) queues, and this call adds more; "
                    + "at most \(JobLimits.maximumQueuesPerUser) at once besides default: use fewer queue names")
        case .tooManyDependencies(let index, let held, let adding):
            return .invalidJob(
                index: index,
                reason: "your unfinished jobs already wait on \(held) dependencies, and this call adds \(adding); "
                    + "at most \(JobLimits.maximumWaitingDependenciesPerUser) at once: let some finish first")
        }
    }
}

/// Signatures of a submit's jobs, resolving each distinct command once (a batch of 20,000 runs of one
/// command makes one PATH lookup).
private struct SignatureCache {
    private var resolved: [String: String?] = [:]
    /// Whose permissions the lookups use: the caller's under a root daemon, so a command behind a
    /// directory the caller cannot search resolves exactly like a missing one (its signature, class and
    /// profile say nothing about it either).
    private let identity: Identity?
    /// The PATH a job without `env` will search when it runs.
    private let defaultPath: String?

    init(caller: Caller, daemonUID: UInt32) {
        identity = Identity.runningJob(ownedBy: caller.uid, group: caller.gid)
        defaultPath = ProcessEnvironment.defaultSearchPath(forJobOwnedBy: caller.uid)
    }

    /// The signature, from the commands it names resolved as the owner. The signature rules ask for the
    /// commands one by one (a launcher's command is only known once the launcher is), and each lookup
    /// runs on an owner thread (``ExecutableLookup``): so the rules run again until they ask for no
    /// command not yet looked up.
    mutating func signature(of spec: JobSpec) async -> String {
        guard spec.resolvedKind == HandlerRegistry.execKind, let argv = spec.argv, !argv.isEmpty else {
            return Signature.of(kind: spec.resolvedKind)
        }
        let path = spec.env.map { $0["PATH"] } ?? defaultPath
        func key(_ command: String) -> String {
            "\(command)\u{0}\(path ?? "")\u{0}\(command.contains("/") ? spec.cwd ?? "" : "")"
        }
        while true {
            var missing: [String] = []
            let signature = Signature.of(argv: argv, cwd: spec.cwd) { command in
                if let known = resolved[key(command)] { return known }
                missing.append(command)
                return nil
            }
            guard !missing.isEmpty else { return signature }
            for command in missing where resolved[key(command)] == nil {
                let found = try? await ExecutableLookup.resolve(command, searchPath: path, cwd: spec.cwd, as: identity).get()
                resolved[key(command)] = .some(found)
            }
        }
    }
}
