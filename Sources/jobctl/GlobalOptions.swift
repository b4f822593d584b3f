import ArgumentParser
import Foundation
import JobdClient
import JobdProtocol

/// Options every subcommand takes.
struct GlobalOptions: ParsableArguments {
    @Option(help: "jobd's socket. Default: $JOBD_SOCKET, else $XDG_RUNTIME_DIR/jobd/jobd.sock, else /run/jobd/jobd.sock.")
    var socket: String?

    var socketPath: String { socket ?? SocketLocation.defaultPath(environment: ProcessInfo.processInfo.environment) }

    /// Connects, runs `body`, and turns every failure into one line on stderr and a documented exit code.
    func withConnection<R: Sendable>(_ body: (JobdConnection) async throws -> R) async throws -> R {
        do {
            return try await JobdConnection.withConnection(path: socketPath, body)
        } catch let error as ClientError {
            printError(error.description)
            throw ExitCode(ExitStatus.code(for: error))
        }
    }
}

func printError(_ message: String) {
    FileHandle.standardError.write(Data("jobctl: \(message)\n".utf8))
}

/// Prints a value as indented JSON.
func printJSON(_ value: some Encodable) throws {
    print(try WireJSON.encodePretty(value))
}
