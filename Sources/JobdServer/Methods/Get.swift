import JobdProtocol

extension Responder {
    /// The job, and for one that waits for others (`scheduled`), which of them have not succeeded yet.
    func get(_ parameters: Get.Parameters, caller: Caller) async throws -> Get.Reply {
        let job = try await authorizedJob(parameters.id, caller: caller)
        guard job.state == .scheduled else { return Get.Reply(job: job) }
        let waits: [JobID]
        do {
            waits = try await store.waitsFor(job.id)
        } catch {
            throw JobdError.storageFailed("\(error)")
        }
        return Get.Reply(job: job, waitsFor: waits.isEmpty ? nil : waits)
    }
}
