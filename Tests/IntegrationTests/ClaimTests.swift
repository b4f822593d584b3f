import JobdProtocol
import JobdTestSupport
import Testing

extension AgainstTheRealDaemon {
    /// The claim (issue 19) as a daemon drives it: each freed slot claims from the store.
    @Suite struct ClaimTests {
        /// More I/O slots than one claim may take (`ClaimRequest.maximumJobs`, 4,096): a claim cut short at that cap
        /// is not an empty class. It was taken for one, and the daemon stopped claiming with jobs queued
        /// (`--io-concurrency 4096`: 12,288 of 20,000 no-op jobs ran, the rest stayed queued for good).
        @Test func aClaimCutShortAtItsCapLeavesNoJobBehind() async throws {
            let slots = 4096 + 100  // JobdStore's ClaimRequest.maximumJobs, and more
            let count = 2 * slots + 500
            try await DaemonProcess.with(arguments: ["--io-concurrency", "\(slots)"]) { daemon in
                _ = try await daemon.submit(Array(repeating: JobSpec(kind: "noop", class: .io), count: count))
                var last = StateCounts()
                let ran = try await eventually("every job succeeded", within: .seconds(120)) { () async throws -> Bool? in
                    last = try await daemon.status().io
                    return last.succeeded == count ? true : nil
                }
                #expect(ran, "io counts: \(last)")
            }
        }
    }
}
