/// Which of a job's two output streams.
public enum StandardStream: String, Hashable, Sendable, Codable, CaseIterable {
    case stdout, stderr
}

/// `io.jobd.Logs`: a job's captured output: stdout and stderr interleaved in the order they were read,
/// or one of the two (`stream`).
///
/// With `follow` and `more`, replies keep coming as the job writes, and the last (`continues` absent)
/// has `finished: true`. `offset` counts bytes of the interleaved log in either case, so a reader of one
/// stream resumes where its last reply's `offset` says.
public enum Logs {
    public static let method = "io.jobd.Logs"
    /// The most text one reply carries.
    public static let maximumChunk = 256 * 1024

    public struct Parameters: Hashable, Sendable, Codable {
        public var id: JobID
        /// Start at this byte of the output (default 0).
        public var offset: Int64?
        /// Keep replying until the job finishes (needs `more`).
        public var follow: Bool?
        /// Only this stream's bytes; both, interleaved, when absent.
        public var stream: StandardStream?

        public init(id: JobID, offset: Int64? = nil, follow: Bool? = nil, stream: StandardStream? = nil) {
            self.id = id
            self.offset = offset
            self.follow = follow
            self.stream = stream
        }
    }

    public struct Reply: Hashable, Sendable, Codable {
        /// Output bytes as UTF-8 text; invalid sequences are replaced with U+FFFD.
        public var text: String
        /// Where the next read starts.
        public var offset: Int64
        /// The job has finished and `offset` is the end of its output.
        public var finished: Bool
        /// Output past the capture limit was dropped.
        public var truncated: Bool

        public init(text: String, offset: Int64, finished: Bool, truncated: Bool) {
            self.text = text
            self.offset = offset
            self.finished = finished
            self.truncated = truncated
        }
    }
}
