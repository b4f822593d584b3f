import Foundation

/// What a finished command printed and how it exited.
public struct CommandResult: Sendable, CustomStringConvertible {
    public var status: Int32
    public var stdout: String
    public var stderr: String

    public var description: String { "exit \(status)\nstdout: \(stdout)\nstderr: \(stderr)" }

    /// stdout without the trailing newline.
    public var output: String { stdout.trimmingCharacters(in: .newlines) }
}

/// Runs a program to completion, feeding it `input`, without blocking the cooperative pool. A program
/// still running after `limit` is killed and the call throws `TimedOut`: a test never hangs the run.
public func runProgram(
    _ path: String, _ arguments: [String], environment: [String: String]? = nil, input: String? = nil,
    currentDirectory: String? = nil, within limit: Duration = .seconds(30)
) async throws -> CommandResult {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: path)
    process.arguments = arguments
    if let environment { process.environment = environment }
    if let currentDirectory { process.currentDirectoryURL = URL(fileURLWithPath: currentDirectory) }
    let stdout = Pipe()
    let stderr = Pipe()
    let stdin = Pipe()
    process.standardOutput = stdout
    process.standardError = stderr
    process.standardInput = stdin
    let exited = AsyncStream<Int32>.makeStream()
    process.terminationHandler = { exited.continuation.yield($0.terminationStatus) }
    let started = ContinuousClock.now
    try process.run()
    if let input { stdin.fileHandleForWriting.write(Data(input.utf8)) }
    try stdin.fileHandleForWriting.close()
    let watchdog = Task {
        try await Task.sleep(for: limit)
        process.terminate()
        kill(process.processIdentifier, SIGKILL)
    }
    defer { watchdog.cancel() }
    // Read both pipes to the end first: a full pipe would otherwise block the child forever. On threads of
    // their own: a blocking read on the cooperative pool (2 threads on 2 cores) would starve every other
    // task of the test, this function's own watchdog included, while the program runs.
    async let out = readToEnd(stdout.fileHandleForReading)
    async let err = readToEnd(stderr.fileHandleForReading)
    let (outData, errData) = await (out, err)
    var status: Int32 = -1
    for await code in exited.stream {
        status = code
        break
    }
    if watchdog.isCancelled == false, ContinuousClock.now > started + limit {
        throw TimedOut("\(path) \(arguments.joined(separator: " ")) was still running after \(limit)")
    }
    return CommandResult(
        status: status, stdout: String(decoding: outData, as: UTF8.self), stderr: String(decoding: errData, as: UTF8.self))
}

/// Reads a pipe to its end on a new thread, never on the cooperative pool.
private func readToEnd(_ handle: FileHandle) async -> Data {
    await withCheckedContinuation { continuation in
        Thread { continuation.resume(returning: handle.readDataToEndOfFile()) }.start()
    }
}
