import Foundation
import JobdRunners
import Logging

/// jobd's log lines on stderr, in one of two shapes:
/// - under systemd (stderr is the journal stream `$JOURNAL_STREAM` names): `<4>message job=7`, the
///   syslog priority prefix journald turns into the entry's priority, and no timestamp (journald adds it);
/// - elsewhere: `2026-11-26T00:30:00Z warning message job=7`, for a person at a terminal or a log file.
///
/// Metadata follows the message as `key=value`, so every line about a job carries `job=ID` where it was logged
/// with it, and `journalctl -u jobd | grep job=7` finds them all.
public struct ServiceLogHandler: LogHandler {
    public var metadata: Logger.Metadata = [:]
    public var metadataProvider: Logger.MetadataProvider?
    private let setting: LogLevelSetting
    private let isJournal: Bool

    /// The level is the shared setting's: a reload changes it for every logger at once.
    public var logLevel: Logger.Level {
        get { setting.level }
        set { setting.level = newValue }
    }

    public init(setting: LogLevelSetting, isJournal: Bool) {
        self.setting = setting
        self.isJournal = isJournal
    }

    /// Whether stderr is the stream journald gave this process: `$JOURNAL_STREAM` is `device:inode` of it,
    /// as systemd.exec(5) says to check, so a stderr redirected elsewhere by a wrapper is not taken for it.
    public static func stderrIsJournal(environment: [String: String]) -> Bool {
        guard let value = environment["JOURNAL_STREAM"], let colon = value.firstIndex(of: ":"),
            let device = UInt64(value[..<colon]), let inode = UInt64(value[value.index(after: colon)...]),
            let identity = InheritedDescriptor.identity(of: 2)
        else { return false }
        return identity.device == device && identity.inode == inode
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        let level = event.level
        let message = event.message
        let extra = event.metadata
        var all = metadata
        if let provided = metadataProvider?.get() { all.merge(provided) { $1 } }
        if let extra { all.merge(extra) { $1 } }
        var line = isJournal ? "<\(Self.priority(level))>" : "\(Date().ISO8601Format()) \(level) "
        // One message may span lines (an error's text); journald would split it into entries without priority.
        line += isJournal ? message.description.replacingOccurrences(of: "\n", with: " ") : message.description
        for (key, value) in all.sorted(by: { $0.key < $1.key }) {
            line += " \(key)=\(value)"
        }
        line += "\n"
        // One write(2) per line: lines from many threads never interleave.
        FileHandle.standardError.write(Data(line.utf8))
    }

    /// syslog(3) priorities, as sd-daemon(3) lists them: `<7>` debug … `<2>` critical.
    static func priority(_ level: Logger.Level) -> Int {
        switch level {
        case .trace, .debug: 7
        case .info: 6
        case .notice: 5
        case .warning: 4
        case .error: 3
        case .critical: 2
        }
    }
}
