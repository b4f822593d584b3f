import Crypto
import JobdProtocol

#if canImport(Glibc)
import Glibc
#endif

/// The SHA-256 of a file, `{"path": "/abs/file"}` → `{"sha256": "<hex>", "bytes": N}`: CPU-bound work
/// done in the worker's own process, with no exec.
public struct SHA256FileHandler: BlockingJobHandler {
    public init() {}
    public var kind: String { "sha256" }
    public var declaredClass: JobClass? { .cpu }

    public func validate(_ payload: JSONValue) -> String? {
        guard let path = payload["path"]?.stringValue, path.hasPrefix("/") else {
            return "a sha256 job's payload is {\"path\": \"/absolute/file\"}"
        }
        return nil
    }

    public func runBlocking(_ payload: JSONValue, context: HandlerContext) throws(HandlerError) -> JSONValue {
        guard let path = payload["path"]?.stringValue else { throw HandlerError("payload has no \"path\"") }
        let fd = try context.openForReading(path)
        defer { close(fd) }
        var hasher = SHA256()
        var buffer = [UInt8](repeating: 0, count: 1 << 20)
        var total: Int64 = 0
        while true {
            if context.isCancelled { throw .cancelled }
            let count = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if count < 0 {
                if errno == EINTR { continue }
                throw HandlerError("cannot read \(path): \(String(cString: strerror(errno)))")
            }
            if count == 0 { break }
            buffer.withUnsafeBytes { hasher.update(bufferPointer: UnsafeRawBufferPointer(rebasing: $0[0..<count])) }
            total += Int64(count)
        }
        let digits = Array("0123456789abcdef".utf8)
        let hex = String(decoding: hasher.finalize().flatMap { [digits[Int($0 >> 4)], digits[Int($0 & 15)]] }, as: UTF8.self)
        return .object(["sha256": .string(hex), "bytes": .int(total)])
    }
}
