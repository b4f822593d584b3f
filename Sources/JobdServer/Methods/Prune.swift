import JobdProtocol

extension Responder {
    /// Deletes the caller's finished jobs (root: everyone's) and their logs, and says how many.
    func prune(_ parameters: Prune.Parameters, caller: Caller) async throws -> Prune.Reply {
        let age = parameters.olderThanSeconds ?? 0
        guard age.isFinite, age >= 0 else { throw JobdError.invalidParameter("older_than_seconds") }
        let states = parameters.states.map(Set.init) ?? JobState.finishedStates
        // A queued or running job is never pruned: asking for one is a mistake worth telling the caller.
        guard !states.isEmpty, states.isSubset(of: JobState.finishedStates) else {
            throw JobdError.invalidParameter("states")
        }
        let pruned = try await pruner.prune(olderThan: age, states: states, ownerUID: caller.isRoot ? nil : caller.uid)
        return Prune.Reply(pruned: pruned)
    }
}
