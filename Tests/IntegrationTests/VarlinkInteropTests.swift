import Foundation
import JobdTestSupport
import Testing

extension AgainstTheRealDaemon {
    /// Any varlink client must be able to use jobd: the reference Python client (installed by `make deps`)
    /// parses the interface strictly and calls through it.
    @Suite struct VarlinkInteropTests {
        static let script = """
            import sys, varlink
            with varlink.Client(address="unix:" + sys.argv[1]) as client:
                with client.open("io.jobd") as jobd:
                    ids = jobd.Submit([{"argv": ["sh", "-c", "echo from python"]}])["ids"]
                    job = jobd.Wait(ids)["jobs"][0]
                    print(job["state"], job["exit_code"])
                    try:
                        jobd.Get(12345)
                    except varlink.VarlinkError as error:
                        print(error.error())
            """

        @Test func theReferencePythonClientSubmitsAndWaits() async throws {
            let available = try await runProgram("/usr/bin/env", ["python3", "-c", "import varlink"])
            try #require(available.status == 0, "python3 -m pip install varlink (make deps does) to run this test")
            try await DaemonProcess.with { daemon in
                let result = try await runProgram("/usr/bin/env", ["python3", "-c", Self.script, daemon.socket])
                #expect(result.status == 0, "\(result)")
                #expect(result.stdout == "succeeded 0\nio.jobd.JobNotFound\n", "\(result)")
            }
        }
    }
}
