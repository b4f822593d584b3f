import Foundation

/// The daemon's own environment, which jobs inherit when they bring none.
public enum ProcessEnvironment {
    public static var current: [String: String] { ProcessInfo.processInfo.environment }
}

/// Directory creation for the daemon's own files.
public enum FileSystem {
    /// Creates `path` and its parents if missing.
    public static func createDirectory(_ path: String) throws {
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    /// Creates the directory that holds `path`, if missing.
    public static func createDirectory(parentOf path: String) throws {
        try createDirectory(URL(fileURLWithPath: path).deletingLastPathComponent().path)
    }
}
