import JobdProtocol

extension Responder {
    func get(_ parameters: Get.Parameters, caller: Caller) async throws -> Get.Reply {
        Get.Reply(job: try await authorizedJob(parameters.id, caller: caller))
    }
}
