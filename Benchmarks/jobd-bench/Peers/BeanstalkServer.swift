import Foundation

/// A fresh `beanstalkd` for one workload: on 127.0.0.1, a free port, its binlog in a temp folder (`-b`,
/// default fsync: at most every 50 ms), so jobs are durable as in jobd.
final class BeanstalkServer {
    let pid: pid_t
    let port: UInt16
    let directory: String

    init(binary: String) throws {
        directory = NSTemporaryDirectory() + "jobd-bench-beanstalkd-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        port = try freePort()
        pid = try Spawn.start([binary, "-l", "127.0.0.1", "-p", String(port), "-b", directory])
        let deadline = ContinuousClock.now + .seconds(10)
        while ContinuousClock.now < deadline {
            if (try? BeanstalkConnection(port: port)) != nil { return }
            usleep(2_000)
        }
        stop()
        throw BenchError("beanstalkd did not start")
    }

    /// Peak resident set size so far (VmHWM), in bytes.
    var peakRSS: Int64 { ProcStats.statusField(pid, "VmHWM:") }

    func stop() {
        kill(pid, SIGTERM)
        Spawn.wait(pid)
        try? FileManager.default.removeItem(atPath: directory)
    }
}

/// A TCP port nobody listens on now (bound to port 0, read back, closed).
func freePort() throws -> UInt16 {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    defer { close(fd) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    let bound = withUnsafeMutablePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
            bind(fd, $0, length) == 0 && getsockname(fd, $0, &length) == 0
        }
    }
    guard bound else { throw BenchError("no free port") }
    return UInt16(bigEndian: address.sin_port)
}

/// Runs each body on its own thread (the blocking clients need one each) and waits for all; rethrows
/// the first error.
func onThreads(_ bodies: [@Sendable () throws -> Void]) throws {
    let group = DispatchGroup()
    let errors = ErrorBox()
    for body in bodies {
        group.enter()
        let thread = Thread {
            do { try body() } catch { errors.record(error) }
            group.leave()
        }
        thread.stackSize = 1 << 20
        thread.start()
    }
    group.wait()
    if let error = errors.first { throw error }
}

private final class ErrorBox: @unchecked Sendable {
    private let lock = NSLock()
    private var errors: [any Error] = []
    func record(_ error: any Error) { lock.withLock { errors.append(error) } }
    var first: (any Error)? { lock.withLock { errors.first } }
}
