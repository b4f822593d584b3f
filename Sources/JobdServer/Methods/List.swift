import JobdProtocol
import JobdStore

extension Responder {
    /// A page of jobs, newest first; a user sees only their own, root sees all.
    func list(_ parameters: List.Parameters, caller: Caller) async throws -> List.Reply {
        let limit = parameters.limit ?? List.defaultLimit
        guard (1...List.maximumLimit).contains(limit) else { throw JobdError.invalidParameter("limit") }
        // Duplicates collapse: 100,000 repeats of a state are one SQL parameter, not 100,000.
        let states = parameters.states.map { Array(Set($0)) }
        let filter = JobFilter(
            states: states, queue: parameters.queue, beforeID: parameters.beforeID, limit: limit,
            ownerUID: caller.isRoot ? nil : caller.uid)
        let (jobs, more) = try await store.jobs(matching: filter)
        return List.Reply(jobs: jobs, nextBeforeID: more ? jobs.last?.id : nil)
    }
}
