import JobdProtocol
import Logging
import NIOCore

/// One worker process, as I/O: its spawn, its frames in and out, its exit. It knows nothing of jobs; the
/// pool (``WorkerPool``) decides what to send and what a frame means.
final class WorkerProcess: Sendable {
    let slot: Int
    let pid: Int32
    private let outbox: AsyncStream<ByteBuffer>.Continuation

    private init(slot: Int, pid: Int32, outbox: AsyncStream<ByteBuffer>.Continuation) {
        self.slot = slot
        self.pid = pid
        self.outbox = outbox
    }

    var name: String { "worker \(slot) (pid \(pid))" }

    /// Queues one encoded frame for the worker's stdin.
    func send(_ frame: ByteBuffer) { outbox.yield(frame) }

    /// Closes the worker's stdin once the frames already queued are written: it exits when it reads EOF.
    func closeInput() { outbox.finish() }

    /// SIGKILL to the worker itself (not to its job's process group).
    func kill() { ProcessReactor.signalProcess(pid, SIGKILL_VALUE) }

    /// How a worker process ended.
    struct Ending: Sendable {
        /// Its exit status, as the reactor reaped it.
        var exit: ChildResult
        /// Why the daemon cut it off (a frame over the limit, one that does not decode), if it did.
        var cutOff: String?
    }

    /// Spawns one worker and serves its frames until it exits.
    ///
    /// Why fork+exec of our own executable rather than a bare `fork()`: the daemon is multi-threaded
    /// (NIO's event loops, the cooperative pool, the reactor), and a forked copy holds only the forking
    /// thread, with every lock another thread held stuck forever. A fresh exec starts clean.
    ///
    /// - Parameters:
    ///   - started: called once the process runs, before any of its frames.
    ///   - received: called with each frame, in order; the next is read once it returns.
    /// - Returns: how it ended; nil if it could not be started (logged).
    static func run(
        slot: Int, configuration: WorkerPoolConfiguration, reactor: ProcessReactor, logger: Logger,
        started: (WorkerProcess) async -> Void, received: (WorkerMessage) async -> Void
    ) async -> Ending? {
        let toWorker: Pipe
        let fromWorker: Pipe
        do {
            toWorker = try Pipe()
            fromWorker = try Pipe()
        } catch {
            logger.error("worker \(slot): \(error)")
            return nil
        }
        let request = SpawnRequest(
            path: configuration.executable, argv: configuration.arguments
                + ["--slot", "\(slot)", "--worker-kill-grace", "\(configuration.killGrace.value.inSeconds)"],
            environment: configuration.environment.map { "\($0.key)=\($0.value)" },
            stdio: .descriptors(stdin: toWorker.readEnd, stdout: fromWorker.writeEnd, stderr: 2))
        let (pids, pidSink) = AsyncStream.makeStream(of: Int32.self)
        async let exit: ChildResult = {
            let result = await reactor.run(request) { pid in pidSink.yield(pid) }
            pidSink.finish()
            return result
        }()
        var pidIterator = pids.makeAsyncIterator()
        let pid = await pidIterator.next()
        Pipe.close(toWorker.readEnd)
        Pipe.close(fromWorker.writeEnd)
        guard let pid else {
            Pipe.close(toWorker.writeEnd)
            Pipe.close(fromWorker.readEnd)
            let failure = await exit
            logger.error("worker \(slot) could not start: \(failure)")
            return nil
        }

        let (frames, outbox) = AsyncStream.makeStream(of: ByteBuffer.self)
        let process = WorkerProcess(slot: slot, pid: pid, outbox: outbox)
        await started(process)
        var cutOff: String?
        do {
            let channel = try await WorkerFraming.channel(
                reading: fromWorker.readEnd, writing: toWorker.writeEnd,
                maximumInbound: configuration.maximumInboundFrameBytes)
            try await channel.executeThenClose { inbound, outbound in
                try await withThrowingDiscardingTaskGroup { group in
                    group.addTask {
                        for await frame in frames { try await outbound.write(frame) }
                        outbound.finish()  // the worker reads EOF and exits
                    }
                    let coder = WorkerFraming.Coder()
                    for try await frame in inbound {
                        let message: WorkerMessage
                        do {
                            message = try coder.decode(frame)
                        } catch {
                            cutOff = "sent a frame that does not decode (\(error))"
                            throw error
                        }
                        await received(message)
                    }
                    outbox.finish()
                }
            }
        } catch {
            if cutOff == nil, let frameError = error as? WorkerFrameError { cutOff = frameError.description }
            if let cutOff {
                logger.error("\(process.name) \(cutOff); killing it")
            } else {
                logger.debug("\(process.name): pipe closed: \(error)")
            }
            process.kill()  // it is no use to us without its pipes
        }
        outbox.finish()
        return Ending(exit: await exit, cutOff: cutOff)
    }
}
