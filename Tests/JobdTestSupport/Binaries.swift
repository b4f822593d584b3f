import Foundation

/// Where the built `jobd` and `jobctl` are: beside the test bundle (that is where `swift build` puts
/// them), or in `$JOBD_BIN_DIR`.
public enum Binaries {
    public static let directory: String = {
        if let dir = ProcessInfo.processInfo.environment["JOBD_BIN_DIR"] { return dir }
        var url = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
        for _ in 0..<4 {
            url = url.deletingLastPathComponent()
            if FileManager.default.isExecutableFile(atPath: url.appendingPathComponent("jobd").path) { return url.path }
        }
        // Fall back to the package's debug build folder.
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
        return root.appendingPathComponent(".build/debug").path
    }()

    public static var jobd: String { directory + "/jobd" }
    public static var jobctl: String { directory + "/jobctl" }
}
