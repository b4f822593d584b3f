import Foundation
import JobdRunners
import Testing

/// Files opened for a job's owner, by a root process: with the owner's rights alone.
struct FileAccessTests {
    @Test(.enabled(if: getuid() == 0, "needs root: opens as nobody"))
    func aFileIsOpenedWithTheOwnersRightsAndNoneOfOurs() throws {
        let nobody = Identity(uid: 65534, gid: 65534)
        let readable = try FileAccess.openForReading("/etc/passwd", as: nobody).get()
        FileAccess.close(readable)
        for path in ["/etc/shadow", "/proc/\(getpid())/maps", "/proc/\(getpid())/environ", "/proc/1/environ"] {
            switch FileAccess.openForReading(path, as: nobody) {
            case .success(let fd):
                FileAccess.close(fd)
                Issue.record("nobody opened \(path)")
            case .failure(let error):
                #expect(error.description.contains("Permission denied"), "\(path): \(error)")
            }
        }
        switch FileAccess.openForReading("/dev/null", as: nobody) {
        case .success: Issue.record("a device was opened")
        case .failure(let error): #expect(error.description.contains("not a regular file"), "\(error)")
        }
    }
}
