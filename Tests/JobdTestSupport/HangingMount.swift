import Foundation

/// A FUSE file system that never answers, mounted in a private mount namespace of its own (`unshare -m`),
/// reachable from outside only through `/proc/PID/root/...` of its server: what a user who can mount
/// FUSE (in a user namespace, say) can put in any path a job names. Any `stat`, `open` or `execve` that
/// reaches it waits until the waiting process is killed.
///
/// Built with `mount(2)` from Python's ctypes on `/dev/fuse`, with no FUSE library: nothing reads the
/// device, so not even the kernel's INIT is answered.
public final class HangingMount: @unchecked Sendable {
    /// Why a test that needs one cannot have it here, or nil.
    public static var unavailable: String? {
        if getuid() != 0 { return "needs root to mount FUSE in a private mount namespace" }
        if !FileManager.default.fileExists(atPath: "/dev/fuse") { return "needs /dev/fuse" }
        if !FileManager.default.isExecutableFile(atPath: "/usr/bin/unshare") { return "needs unshare (util-linux)" }
        if !FileManager.default.isExecutableFile(atPath: "/usr/bin/python3") { return "needs /usr/bin/python3" }
        return nil
    }

    /// The mount point as every other process reaches it: under the server's /proc/PID/root.
    public let path: String
    private let server: pid_t
    private let directory: TempDirectory

    public init() async throws {
        directory = try TempDirectory()
        let mountPoint = directory.file("mnt")
        try FileManager.default.createDirectory(atPath: mountPoint, withIntermediateDirectories: false)
        let script = directory.file("hang.py")
        try """
            import ctypes, os, sys, time
            fd = os.open("/dev/fuse", os.O_RDWR)
            libc = ctypes.CDLL(None, use_errno=True)
            options = f"fd={fd},rootmode=40000,user_id={os.getuid()},group_id={os.getgid()}".encode()
            if libc.mount(b"jobd-test-hang", sys.argv[1].encode(), b"fuse", 0, options) != 0:
                print("mount failed:", os.strerror(ctypes.get_errno()), flush=True)
                sys.exit(1)
            print("mounted", flush=True)
            time.sleep(3600)
            """.write(toFile: script, atomically: true, encoding: .utf8)
        let output = directory.file("out")
        server = try CleanSpawn.start(
            "/usr/bin/unshare", ["-m", "--propagation", "private", "/usr/bin/python3", script, mountPoint],
            stdout: output, stderr: directory.file("err"))
        path = "/proc/\(server)/root\(mountPoint)"
        let server = server
        try await eventually("the hanging FUSE mount is up") { () -> Bool? in
            let text = (try? String(contentsOfFile: output, encoding: .utf8)) ?? ""
            if text.contains("mount failed") { throw SpawnFailed(description: text) }
            // unshare execs python3 in place: the same pid serves the mount.
            return text.contains("mounted") && kill(server, 0) == 0 ? true : nil
        }
    }

    /// Ends the server: the mount goes with its namespace, and anything still waiting on it fails.
    public func remove() {
        kill(server, SIGKILL)
        var status: Int32 = 0
        _ = waitpid(server, &status, 0)
        directory.remove()
    }
}
