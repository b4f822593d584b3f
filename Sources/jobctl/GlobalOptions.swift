import ArgumentParser
import FoundationEssentials
import Glibc
import JobdClient
import JobdProtocol

/// Options every subcommand takes.
struct GlobalOptions: ParsableArguments {
    @Option(help: "jobd's socket. Default: $JOBD_SOCKET, else your own daemon's $XDG_RUNTIME_DIR/jobd/jobd.sock if it is there, else the system's /run/jobd/jobd.sock.")
    var socket: String?

    var socketPath: String { socket ?? Self.defaultSocketPath }

    /// `$JOBD_SOCKET`, else `$XDG_RUNTIME_DIR/jobd/jobd.sock` if it is there, else `/run/jobd/jobd.sock`.
    static var defaultSocketPath: String {
        SocketLocation.clientPath(environment: ProcessInfo.processInfo.environment) { path in
            var info = stat()
            return stat(path, &info) == 0
        }
    }

    /// Connects, runs `body`, and turns every failure into one line on stderr and a documented exit code.
    func withConnection<R>(_ body: (BlockingConnection) throws -> R) throws -> R {
        try Self.withConnection(to: socketPath, body)
    }

    /// ``withConnection(_:)`` for a socket path given directly (jobctl's fast path, Jobctl.swift).
    static func withConnection<R>(to socketPath: String, _ body: (BlockingConnection) throws -> R) throws -> R {
        do {
            return try body(try BlockingConnection(path: socketPath))
        } catch let error as ClientError {
            printError(error.description)
            throw ExitCode(ExitStatus.code(for: error))
        }
    }
}

/// One line on stderr, prefixed with the program's name.
func printError(_ message: String) {
    let line = Array("jobctl: \(message)\n".utf8)
    _ = line.withUnsafeBytes { write(2, $0.baseAddress, $0.count) }
}

/// Writes text to stdout as it is (no newline added), at once: straight to the descriptor, not through
/// stdio's buffer, which holds a pipe's or a file's output back until it fills (`jobctl logs -f 7 | grep`
/// would show nothing until the job ended).
func writeOut(_ text: String) {
    var bytes = Array(text.utf8)[...]
    while !bytes.isEmpty {
        let written = bytes.withUnsafeBytes { write(1, $0.baseAddress, $0.count) }
        if written < 0 && errno == EINTR { continue }
        guard written > 0 else {
            // The reader has gone (EPIPE, with SIGPIPE ignored, as systemd services and some runtimes
            // start their children): end as SIGPIPE would, or `watch` and `logs -f` would keep a
            // connection to jobd for nobody.
            if written < 0 && errno == EPIPE { exit(128 + SIGPIPE) }
            return
        }
        bytes = bytes.dropFirst(written)
    }
}

/// Prints a value as indented JSON.
func printJSON(_ value: some Encodable) throws {
    print(try WireJSON.encodePretty(value))
}
