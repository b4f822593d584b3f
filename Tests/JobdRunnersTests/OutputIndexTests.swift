import Foundation
import JobdProtocol
import JobdTestSupport
import Testing

@testable import JobdRunners

/// The log and its stream index, written and read without a daemon (issue 13 part 8).
struct OutputIndexTests {
    private func write(_ writes: [(StandardStream, String)], to writer: inout OutputWriter) {
        for (stream, text) in writes { Array(text.utf8).withUnsafeBytes { writer.append($0, from: stream) } }
    }

    private func text(
        _ stream: StandardStream, _ directory: TempDirectory, from offset: Int64 = 0, limit: Int = 1 << 20
    ) -> (text: String, chunk: OutputIndex.Chunk) {
        let chunk = OutputIndex.read(
            stream, log: directory.file("1.log"), index: directory.file("1.idx"), from: offset, limit: limit)
        return (String(decoding: chunk.bytes, as: UTF8.self), chunk)
    }

    private func size(_ path: String) -> Int {
        ((try? FileManager.default.attributesOfItem(atPath: path))?[.size] as? Int) ?? -1
    }

    @Test func aStreamThatKeepsWritingExtendsOneRecordAndEachSwitchAddsOne() throws {
        let directory = try TempDirectory()
        defer { directory.remove() }
        var writer = OutputWriter(logPath: directory.file("1.log"), indexPath: directory.file("1.idx"), limit: 1 << 20)
        write([(.stdout, "a"), (.stdout, "b"), (.stderr, "E"), (.stdout, "c")], to: &writer)
        writer.close()
        #expect(size(directory.file("1.log")) == 4)
        #expect(size(directory.file("1.idx")) == 3 * OutputIndex.recordSize, "ab, E, c: three runs")
        #expect(text(.stdout, directory).text == "abc")
        #expect(text(.stderr, directory).text == "E")
    }

    @Test func nothingWrittenCreatesNoFiles() throws {
        let directory = try TempDirectory()
        defer { directory.remove() }
        var writer = OutputWriter(logPath: directory.file("1.log"), indexPath: directory.file("1.idx"), limit: 1 << 20)
        writer.close()
        #expect(!FileManager.default.fileExists(atPath: directory.file("1.log")))
        #expect(!FileManager.default.fileExists(atPath: directory.file("1.idx")))
        #expect(text(.stdout, directory).chunk.caughtUp)
    }

    /// A writer closed for good drops what comes after (a handler abandoned after a stop writing late):
    /// it must not reopen the files beside the next attempt's writer, or recreate a pruned job's.
    @Test func aClosedWriterDropsLateOutput() throws {
        let directory = try TempDirectory()
        defer { directory.remove() }
        var writer = OutputWriter(logPath: directory.file("1.log"), indexPath: directory.file("1.idx"), limit: 1 << 20)
        write([(.stdout, "kept")], to: &writer)
        writer.close()
        try FileManager.default.removeItem(atPath: directory.file("1.log"))
        try FileManager.default.removeItem(atPath: directory.file("1.idx"))
        write([(.stdout, "late")], to: &writer)
        #expect(!FileManager.default.fileExists(atPath: directory.file("1.log")), "not recreated")
        #expect(!FileManager.default.fileExists(atPath: directory.file("1.idx")))
    }

    /// A job alternating tiny writes pays for its index out of its output limit: the two files together
    /// never pass it, and what is dropped is said.
    @Test func theIndexCountsAgainstTheLimit() throws {
        let directory = try TempDirectory()
        defer { directory.remove() }
        var writer = OutputWriter(logPath: directory.file("1.log"), indexPath: directory.file("1.idx"), limit: 100)
        write((0..<50).map { ($0 % 2 == 0 ? .stdout : .stderr, "x") }, to: &writer)
        writer.close()
        let total = size(directory.file("1.log")) + size(directory.file("1.idx"))
        #expect(total <= 100 && total > 100 - OutputIndex.recordSize - 1, "\(total)")
        #expect(writer.truncated)
        #expect(size(directory.file("1.log")) == 7, "seven runs of 13 bytes each fit in 100")
    }

    /// A later attempt appends to the same files; its records start where the log really ends, so one
    /// cut short by a crash (its record written, its bytes not) does not shift what comes after.
    @Test func aRecordBeyondTheLogAfterACrashDoesNotMisattributeTheNextAttempt() throws {
        let directory = try TempDirectory()
        defer { directory.remove() }
        var first = OutputWriter(logPath: directory.file("1.log"), indexPath: directory.file("1.idx"), limit: 1 << 20)
        write([(.stdout, "one\n")], to: &first)
        first.close()
        // The crash: a record for 100 bytes of stdout that never reached the log.
        let lost = OutputIndex.Record(stream: .stdout, start: 4, length: 100).encoded
        let handle = try #require(FileHandle(forWritingAtPath: directory.file("1.idx")))
        try handle.seekToEnd()
        try handle.write(contentsOf: Data(lost))
        try handle.close()
        var second = OutputWriter(logPath: directory.file("1.log"), indexPath: directory.file("1.idx"), limit: 1 << 20)
        write([(.stderr, "two\n")], to: &second)
        second.close()
        #expect(text(.stderr, directory).text == "two\n")
        #expect(text(.stdout, directory).text == "one\n")
    }

    @Test func aPageOfOneStreamStopsAtTheLimitAndTheNextResumesFromItsOffset() throws {
        let directory = try TempDirectory()
        defer { directory.remove() }
        var writer = OutputWriter(logPath: directory.file("1.log"), indexPath: directory.file("1.idx"), limit: 1 << 20)
        write([(.stdout, "0123"), (.stderr, "--"), (.stdout, "4567")], to: &writer)
        writer.close()
        let first = text(.stdout, directory, limit: 3)
        #expect(first.text == "012" && !first.chunk.caughtUp && first.chunk.next == 3)
        let second = text(.stdout, directory, from: first.chunk.next, limit: 3)
        #expect(second.text == "345" && second.chunk.next == 8, "skips stderr's 2 bytes: \(second.chunk)")
        let third = text(.stdout, directory, from: second.chunk.next, limit: 3)
        #expect(third.text == "67" && third.chunk.caughtUp && third.chunk.next == 10)
    }

    /// A follower rescans only from the last record (which may still grow), and sees it grow.
    @Test func aFollowerSeesTheLastRunGrowFromItsIndexCursor() throws {
        let directory = try TempDirectory()
        defer { directory.remove() }
        var writer = OutputWriter(logPath: directory.file("1.log"), indexPath: directory.file("1.idx"), limit: 1 << 20)
        write([(.stderr, "e"), (.stdout, "ab")], to: &writer)
        let first = text(.stdout, directory)
        #expect(first.text == "ab" && first.chunk.nextIndex == Int64(OutputIndex.recordSize), "\(first.chunk)")
        write([(.stdout, "cd")], to: &writer)
        let grown = OutputIndex.read(
            .stdout, log: directory.file("1.log"), index: directory.file("1.idx"), from: first.chunk.next,
            indexFrom: first.chunk.nextIndex, limit: 100)
        #expect(String(decoding: grown.bytes, as: UTF8.self) == "cd" && grown.caughtUp)
        writer.close()
    }

    /// A read's work is bounded by its reply, not by the index: a job alternating one-byte writes makes an
    /// index as long as its log; a read from the middle finds its place by binary search, and a read over
    /// more records than one read decodes stops there, unfinished, and the next goes on.
    @Test func aLongIndexIsReadInBoundedStepsFromAnyOffset() throws {
        let directory = try TempDirectory()
        defer { directory.remove() }
        var writer = OutputWriter(logPath: directory.file("1.log"), indexPath: directory.file("1.idx"), limit: 1 << 20)
        let count = 3 * OutputIndex.recordsPerRead + 10
        write((0..<count).map { ($0 % 2 == 0 ? .stdout : .stderr, $0 % 2 == 0 ? "o" : "e") }, to: &writer)
        writer.close()
        var collected = ""
        var offset: Int64 = 0
        var reads = 0
        while true {
            let page = text(.stderr, directory, from: offset)
            collected += page.text
            offset = page.chunk.next
            reads += 1
            if page.chunk.caughtUp { break }
            #expect(reads < 10, "each read moves on")
            if reads >= 10 { break }
        }
        #expect(collected == String(repeating: "e", count: count / 2))
        #expect(reads == 4, "\(count) records, \(OutputIndex.recordsPerRead) a read")
        let tail = text(.stderr, directory, from: Int64(count - 4))
        #expect(tail.text == "ee" && tail.chunk.caughtUp, "from near the end, at once: \(tail.text)")
    }
}
