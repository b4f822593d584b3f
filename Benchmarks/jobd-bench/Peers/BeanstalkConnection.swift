import Foundation

/// A blocking client of beanstalkd's text protocol on one TCP connection: just the commands the bench
/// uses (use, watch, ignore, put, reserve, delete, stats-tube), and pipelining (`send` several, then read the replies).
///
/// Hand-written: there is no Swift beanstalkd library in the package mirror, and the protocol is a few
/// lines (`put <pri> <delay> <ttr> <bytes>\r\n<data>\r\n` → `INSERTED <id>\r\n`; `reserve\r\n` →
/// `RESERVED <id> <bytes>\r\n<data>\r\n`; `delete <id>\r\n` → `DELETED\r\n`). Blocking I/O, so each
/// producer or consumer runs on its own thread (Sendable only to be handed to that thread).
final class BeanstalkConnection: @unchecked Sendable {
    private let fd: Int32
    private var buffer: [UInt8] = []
    private var start = 0
    private var chunk = [UInt8](repeating: 0, count: 65_536)

    init(port: UInt16) throws {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw BenchError("socket failed") }
        var one: Int32 = 1
        setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = port.bigEndian
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard connected == 0 else {
            close(fd)
            throw BenchError("cannot connect to beanstalkd on port \(port)")
        }
    }

    deinit { close(fd) }

    // MARK: Commands (one round trip each)

    func use(_ tube: String) throws { try expect(send: "use \(tube)\r\n", "USING") }
    func watch(_ tube: String) throws { try expect(send: "watch \(tube)\r\n", "WATCHING") }
    func ignore(_ tube: String) throws { try expect(send: "ignore \(tube)\r\n", "WATCHING") }

    @discardableResult
    func put(_ body: String, delay: Int = 0) throws -> Int {
        try send(Self.put(body, delay: delay))
        return try readInserted()
    }

    func reserve() throws -> (id: Int, body: String) {
        try send("reserve\r\n")
        return try readReserved()
    }

    func delete(_ id: Int) throws { try expect(send: "delete \(id)\r\n", "DELETED") }

    /// How many connections watch `tube` (`stats-tube`'s current-watching).
    func watching(_ tube: String) throws -> Int {
        try send("stats-tube \(tube)\r\n")
        let line = try readLine()
        if line == "NOT_FOUND" { return 0 }
        guard line.hasPrefix("OK "), let size = Int(line.dropFirst(3)) else { throw BenchError("beanstalkd: stats-tube: \(line)") }
        let yaml = String(decoding: try readBytes(size + 2).prefix(size), as: UTF8.self)
        let field = yaml.split(separator: "\n").first { $0.hasPrefix("current-watching: ") }
        return field.flatMap { Int($0.dropFirst("current-watching: ".count)) } ?? 0
    }

    // MARK: Pipelining

    /// The bytes of one put, to batch several into one `send`.
    static func put(_ body: String, pri: Int = 1024, delay: Int = 0, ttr: Int = 60) -> String {
        "put \(pri) \(delay) \(ttr) \(body.utf8.count)\r\n\(body)\r\n"
    }

    func send(_ text: String) throws {
        var bytes = Array(text.utf8)
        var offset = 0
        while offset < bytes.count {
            let count = bytes.withUnsafeMutableBytes { write(fd, $0.baseAddress! + offset, $0.count - offset) }
            if count < 0 && errno == EINTR { continue }
            guard count > 0 else { throw BenchError("beanstalkd: write failed") }
            offset += count
        }
        bytes.removeAll()
    }

    func readInserted() throws -> Int {
        let line = try readLine()
        guard line.hasPrefix("INSERTED "), let id = Int(line.dropFirst(9)) else { throw BenchError("beanstalkd: put: \(line)") }
        return id
    }

    func readReserved() throws -> (id: Int, body: String) {
        let line = try readLine()
        let fields = line.split(separator: " ")
        guard fields.count == 3, fields[0] == "RESERVED", let id = Int(fields[1]), let size = Int(fields[2]) else {
            throw BenchError("beanstalkd: reserve: \(line)")
        }
        let body = try readBytes(size + 2)
        return (id, String(decoding: body.prefix(size), as: UTF8.self))
    }

    func readDeleted() throws {
        let line = try readLine()
        guard line == "DELETED" else { throw BenchError("beanstalkd: delete: \(line)") }
    }

    // MARK: Reading

    private func expect(send command: String, _ prefix: String) throws {
        try send(command)
        let line = try readLine()
        guard line.hasPrefix(prefix) else { throw BenchError("beanstalkd: \(command.dropLast(2)): \(line)") }
    }

    /// One reply line, without its CRLF.
    private func readLine() throws -> String {
        while true {
            if let end = buffer[start...].firstIndex(of: UInt8(ascii: "\n")) {
                let line = String(decoding: buffer[start..<(end > start && buffer[end - 1] == 13 ? end - 1 : end)], as: UTF8.self)
                start = end + 1
                return line
            }
            try fill()
        }
    }

    private func readBytes(_ count: Int) throws -> ArraySlice<UInt8> {
        while buffer.count - start < count { try fill() }
        defer { start += count }
        return buffer[start..<(start + count)]
    }

    private func fill() throws {
        if start > 0 {
            buffer.removeFirst(start)
            start = 0
        }
        while true {
            let count = read(fd, &chunk, chunk.count)
            if count < 0 && errno == EINTR { continue }
            guard count > 0 else { throw BenchError("beanstalkd closed the connection") }
            buffer += chunk[0..<count]
            return
        }
    }
}
