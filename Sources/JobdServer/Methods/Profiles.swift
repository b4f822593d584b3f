import JobdProtocol
import JobdRunners

extension Responder {
    /// A user sees their own profiles and the pins for everyone; root sees every user's.
    func profiles(caller: Caller) async -> Profiles.Reply {
        Profiles.Reply(profiles: await profileBook.all(visibleTo: caller.isRoot ? nil : caller.uid))
    }

    func resetProfile(_ parameters: ResetProfile.Parameters, caller: Caller) async throws -> ResetProfile.Reply {
        try await profileBook.reset(parameters.signature, owner: try owner(caller, everyone: parameters.everyone))
        return Empty()
    }

    func pinProfile(_ parameters: PinProfile.Parameters, caller: Caller) async throws -> PinProfile.Reply {
        guard !parameters.signature.isEmpty else { throw JobdError.invalidParameter("signature") }
        return PinProfile.Reply(
            profile: try await profileBook.pin(
                parameters.signature, owner: try owner(caller, everyone: parameters.everyone), to: parameters.class,
                at: WallClock.now()))
    }

    /// Whose profile a change touches: the caller's own, or with `everyone` the daemon-wide pin, which
    /// steers every user's jobs and so only root and the daemon's own user may change.
    private func owner(_ caller: Caller, everyone: Bool?) throws -> UInt32? {
        guard everyone == true else { return caller.uid }
        let daemonUID = SystemInfo.userID
        guard caller.uid == 0 || caller.uid == daemonUID else {
            throw JobdError.permissionDenied(
                "a pin for everyone steers every user's jobs; only "
                    + (daemonUID == 0 ? "root" : "root or uid \(daemonUID)") + " may change it. "
                    + "Leave out --everyone to pin it for yourself")
        }
        return nil
    }
}
