import JobdProtocol
import JobdRunners

extension Responder {
    func profiles() async -> Profiles.Reply {
        Profiles.Reply(profiles: await profileBook.all())
    }

    /// Profiles steer every user's jobs, so only root and the daemon's own user may change them.
    func resetProfile(_ parameters: ResetProfile.Parameters, caller: Caller) async throws -> ResetProfile.Reply {
        try authorizeProfileChange(caller)
        try await profileBook.reset(parameters.signature)
        return Empty()
    }

    func pinProfile(_ parameters: PinProfile.Parameters, caller: Caller) async throws -> PinProfile.Reply {
        try authorizeProfileChange(caller)
        guard !parameters.signature.isEmpty else { throw JobdError.invalidParameter("signature") }
        return PinProfile.Reply(
            profile: try await profileBook.pin(parameters.signature, to: parameters.class, at: WallClock.now()))
    }

    private func authorizeProfileChange(_ caller: Caller) throws {
        let daemonUID = SystemInfo.userID
        guard caller.uid == 0 || caller.uid == daemonUID else {
            throw JobdError.permissionDenied("profiles are shared by every user; only root or uid \(daemonUID) may change them")
        }
    }
}
