import JobdHandlers
import JobdProtocol
import JobdRunners
import JobdScheduler
import JobdStore
import Logging

/// Answers varlink calls: the single entry point the listener hands every call to.
///
/// Each method lives in its own file as an extension. Errors that reach the client are `JobdError`s,
/// which name their varlink error; anything else is turned into one here.
struct Responder: Sendable {
    typealias Send = @Sendable ([UInt8]) async throws -> Void

    let dispatcher: Dispatcher
    let store: any JobStore
    let classifier: Classifier
    let registry: HandlerRegistry
    let profileBook: ProfileBook
    let pruner: Pruner
    /// The running configuration: a reload changes the live settings among it (ConfigurationChange).
    let configuration: Setting<DaemonConfiguration>
    let startedAt: ContinuousClock.Instant
    let logger: Logger
    /// Fires the schedules; nil where none are kept (tests of the responder alone).
    var recurrences: Recurrences? = nil
    /// Wakes `logs --follow` calls; nil polls the log instead (tests, or no inotify).
    var followers: OutputFollowers? = nil
    /// Wakes `io.jobd.Watch` streams when jobs change (key ``JobID/anyJob``); nil: once a second.
    var transitions: OutputFollowers? = nil
    /// Queue limits and pauses change one at a time (each reads, stores and applies the whole control).
    let controlChanges = SerialGate()
    /// Large replies in progress per user (``ReplySlots``): what unread replies hold is bounded per user.
    let replySlots = ReplySlots()

    /// Runs one call and sends its reply (or replies, for `more`), or its error.
    /// - Throws: only when the connection fails; the caller closes it then.
    func respond(to call: IncomingCall, caller: Caller, send: @escaping Send) async throws {
        let connectionSend = send
        // A failed send is the connection's failure, told apart from the method's own errors below.
        let send: Send =
            call.header.oneway == true
            ? { @Sendable _ in }
            : { @Sendable bytes in
                do {
                    try await connectionSend(bytes)
                } catch {
                    throw ConnectionLost(underlying: error)
                }
            }
        do {
            // A daemon that is not root runs every job as itself and shows every job to itself: serving
            // another uid would run that user's work with our rights and show us theirs. One check, here.
            let daemonUID = SystemInfo.userID
            if daemonUID != 0 && caller.uid != daemonUID {
                throw JobdError.permissionDenied(
                    "this jobd runs as uid \(daemonUID) and serves only that user; use your own jobd "
                        + "(systemctl --user start jobd) or the system one")
            }
            if call.header.upgrade == true { throw JobdError.methodNotImplemented(call.method + " with upgrade") }
            try await route(call, caller: caller, send: send)
        } catch let error as JobdError {
            try await send(try WireJSON.encode(VarlinkErrorReply(error: error.varlinkName, parameters: error.varlinkParameters)))
        } catch let error as StoreError {
            logger.error("\(call.method) from uid \(caller.uid): \(error)")
            let reply = JobdError.storageFailed(error.description)
            try await send(try WireJSON.encode(VarlinkErrorReply(error: reply.varlinkName, parameters: reply.varlinkParameters)))
        } catch let error as ConnectionLost {
            throw error
        } catch is CancellationError {
            throw CancellationError()  // the daemon is stopping: the connection closes
        } catch {
            // Anything else is the daemon's failure, not the caller's: a read error from SQLite (GRDB's
            // DatabaseError), a stored row that does not decode. The client gets a typed error, never a
            // silently closed connection; the details go to the log, not to the caller.
            logger.error("\(call.method) from uid \(caller.uid) failed: \(error)")
            let reply = JobdError.storageFailed(
                "jobd could not read its database to answer \(call.method) (\(type(of: error))); "
                    + "nothing was changed. Try again; if it persists, jobd's log says why")
            try await send(try WireJSON.encode(VarlinkErrorReply(error: reply.varlinkName, parameters: reply.varlinkParameters)))
        }
    }

    private func route(_ call: IncomingCall, caller: Caller, send: @escaping Send) async throws {
        switch call.method {
        // Long-lived calls take a reply slot for each reply they build, not while they wait.
        case Wait.method: try await wait(call.parameters(Wait.Parameters.self), caller: caller, send: send)
        case Watch.method:
            try await watch(more: call.wantsMore, caller: caller, isConnectionOpen: call.isConnectionOpen, send: send)
        case Logs.method:
            try await logs(
                call.parameters(Logs.Parameters.self), more: call.wantsMore, caller: caller,
                isConnectionOpen: call.isConnectionOpen, send: send)
        // Small fixed replies.
        case Status.method: try await reply(status(caller: caller), send)
        case Ping.method: try await reply(Ping.Reply(version: JobdInterface.version), send)
        case VarlinkService.getInfo: try await reply(info(), send)
        case VarlinkService.getInterfaceDescription:
            try await reply(interfaceDescription(call.parameters(VarlinkService.InterfaceQuery.self)), send)
        // Everything else builds and sends its reply holding one of the caller's reply slots (ReplySlots):
        // a job's record alone may be a megabyte (found in review, issue 18: Cancel, Retry and Logs held
        // 640 MB for one user's unread connections).
        default:
            try await replySlots.withSlot(for: caller.uid) { try await routeHoldingASlot(call, caller: caller, send: send) }
        }
    }

    private func routeHoldingASlot(_ call: IncomingCall, caller: Caller, send: @escaping Send) async throws {
        switch call.method {
        case Submit.method: try await reply(submit(call.parameters(Submit.Parameters.self), caller: caller), send)
        case Get.method: try await reply(get(call.parameters(Get.Parameters.self), caller: caller), send)
        case List.method: try await list(call.parameters(List.Parameters.self), caller: caller, send: send)
        case Cancel.method: try await reply(cancel(call.parameters(Cancel.Parameters.self), caller: caller), send)
        case Profiles.method: try await reply(profiles(caller: caller), send)
        case ResetProfile.method:
            try await reply(resetProfile(call.parameters(ResetProfile.Parameters.self), caller: caller), send)
        case PinProfile.method:
            try await reply(pinProfile(call.parameters(PinProfile.Parameters.self), caller: caller), send)
        case Prune.method: try await reply(prune(call.parameters(Prune.Parameters.self), caller: caller), send)
        case Retry.method: try await reply(retry(call.parameters(Retry.Parameters.self), caller: caller), send)
        case Attempts.method: try await reply(attempts(call.parameters(Attempts.Parameters.self), caller: caller), send)
        case AddSchedule.method:
            try await reply(addSchedule(call.parameters(AddSchedule.Parameters.self), caller: caller), send)
        case Schedules.method:
            try await reply(listSchedules(call.parameters(Schedules.Parameters.self), caller: caller), send)
        case RemoveSchedule.method:
            try await reply(removeSchedule(call.parameters(RemoveSchedule.Parameters.self), caller: caller), send)
        case SetQueueLimit.method:
            try await reply(setQueueLimit(call.parameters(SetQueueLimit.Parameters.self), caller: caller), send)
        case Pause.method: try await reply(setPaused(call.parameters(Pause.Parameters.self), true, caller: caller), send)
        case Resume.method: try await reply(setPaused(call.parameters(Resume.Parameters.self), false, caller: caller), send)
        default:
            let interface = call.method.split(separator: ".").dropLast().joined(separator: ".")
            if interface != JobdInterface.name && interface != VarlinkService.interfaceName {
                throw JobdError.interfaceNotFound(interface)
            }
            throw JobdError.methodNotFound(call.method)
        }
    }

    /// Sends one reply, or `ReplyTooLarge` in its place when it would pass `--max-reply-bytes` (List and
    /// Wait build theirs within the bound; this catches every other method).
    func reply(_ parameters: some Codable & Sendable, _ send: Send, continues: Bool = false) async throws {
        let bytes = try WireJSON.encode(VarlinkReply(parameters: parameters, continues: continues))
        guard bytes.count <= configuration.maximumReplyBytes else {
            throw JobdError.replyTooLarge(
                limit: configuration.maximumReplyBytes,
                reason: "this reply is \(bytes.count) bytes; ask for less (List with a smaller limit, Wait with states_only)")
        }
        try await send(bytes)
    }

    /// Checks that every job exists and the caller may see it, in one read of their owners only. Another
    /// user's job is "not found", so ids do not reveal what others run.
    func authorize(_ ids: [JobID], caller: Caller) async throws {
        let owners = try await store.owners(ids)
        for id in ids {
            guard let owner = owners[id], caller.mayAccess(jobOwnedBy: owner) else { throw JobdError.jobNotFound(id) }
        }
    }

    /// The job, if it exists and the caller may see it.
    func authorizedJob(_ id: JobID, caller: Caller) async throws -> Job {
        guard let job = try await store.job(id), caller.mayAccess(jobOwnedBy: job.ownerUID) else {
            throw JobdError.jobNotFound(id)
        }
        return job
    }
}

/// A reply could not be sent: the client has gone. Ends the call and, in the listener, the connection.
struct ConnectionLost: Error {
    var underlying: any Error
}
