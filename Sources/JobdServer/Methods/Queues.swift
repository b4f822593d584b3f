import JobdProtocol
import JobdRunners
import JobdStore

extension Responder {
    /// `io.jobd.SetQueueLimit`: stored first, then applied, so a restart keeps what the caller was told.
    func setQueueLimit(_ parameters: SetQueueLimit.Parameters, caller: Caller) async throws -> Empty {
        try mayControlQueues(caller)
        guard JobLimits.isValidQueueName(parameters.queue) else { throw JobdError.invalidParameter("queue") }
        if let limit = parameters.limit, !(0...JobLimits.maximumQueueLimit).contains(limit) {
            throw JobdError.invalidParameter("limit")
        }
        guard await dispatcher.hasRoom(for: .queue(parameters.queue)) else { throw Self.tooManyControls(parameters.queue) }
        try await controlChanges.run {
            var control = await currentControl(.queue(parameters.queue))
            control.limit = parameters.limit
            try await store(control)
        }
        return Empty()
    }

    /// `io.jobd.Pause` and `io.jobd.Resume`.
    func setPaused(_ parameters: PauseParameters, _ isPaused: Bool, caller: Caller) async throws -> Empty {
        try mayControlQueues(caller)
        let targets = [parameters.queue != nil, parameters.class != nil, parameters.all == true].filter { $0 }
        guard targets.count == 1 else {
            throw JobdError.invalidParameter("queue, class or all (exactly one of them)")
        }
        let target: SchedulingControl.Target
        if let queue = parameters.queue {
            guard JobLimits.isValidQueueName(queue) else { throw JobdError.invalidParameter("queue") }
            guard await dispatcher.hasRoom(for: .queue(queue)) else { throw Self.tooManyControls(queue) }
            target = .queue(queue)
        } else if let jobClass = parameters.class {
            target = .jobClass(jobClass)
        } else {
            target = .all
        }
        try await controlChanges.run {
            var control = await currentControl(target)
            control.paused = isPaused
            try await store(control)
        }
        return Empty()
    }

    private static func tooManyControls(_ queue: String) -> JobdError {
        .invalidParameter(
            "queue (jobd already keeps \(Dispatcher.maximumControls) limits and pauses; \(queue) is one too many: "
                + "resume or unlimit a queue first)")
    }

    /// Queues are shared by every user of the daemon: pausing or limiting one is an operator's act.
    private func mayControlQueues(_ caller: Caller) throws {
        let daemonUID = SystemInfo.userID
        guard caller.isRoot || caller.uid == daemonUID else {
            throw JobdError.permissionDenied(
                "queues, classes and pauses are shared by every user of this jobd; only "
                    + (daemonUID == 0 ? "root" : "root or uid \(daemonUID)") + " may change them")
        }
    }

    private func currentControl(_ target: SchedulingControl.Target) async -> SchedulingControl {
        await dispatcher.control(for: target)
    }

    private func store(_ control: SchedulingControl) async throws {
        do {
            try await store.saveSchedulingControl(control)
        } catch {
            throw JobdError.storageFailed("\(error)")
        }
        await dispatcher.apply([control])
    }
}
