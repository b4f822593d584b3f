import JobdProtocol
import JobdStore

extension Responder {
    /// A page of jobs, newest first; a user sees only their own, root sees all.
    func list(_ parameters: List.Parameters, caller: Caller) async throws -> List.Reply {
        let limit = parameters.limit ?? List.defaultLimit
        guard (1...List.maximumLimit).contains(limit) else { throw JobdError.invalidParameter("limit") }
        let filter = JobFilter(
            states: parameters.states, queue: parameters.queue, beforeID: parameters.beforeID, limit: limit,
            ownerUID: caller.isRoot ? nil : caller.uid)
        let (jobs, more) = try await store.jobs(matching: filter)
        return List.Reply(jobs: jobs, nextBeforeID: more ? jobs.last?.id : nil)
    }
}
