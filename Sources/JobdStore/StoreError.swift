import GRDB

/// Why the store could not open or write. Each case says what to do.
public enum StoreError: Error, CustomStringConvertible {
    /// The database was written by a newer jobd; this binary would not understand it.
    case schemaNewerThanBinary(path: String, unknownMigrations: [String])
    /// SQLite refused to open or migrate the file.
    case cannotOpen(path: String, cause: any Error)
    /// A write failed (full disk, read-only file, I/O error); nothing of it was stored.
    case writeFailed(cause: any Error)
    /// The store is closed (daemon shutting down).
    case closed
    /// The database contradicts what the transaction just did (a bug, or a file edited by hand).
    case inconsistent(String)

    public var description: String {
        switch self {
        case .schemaNewerThanBinary(let path, let unknown):
            "\(path) was written by a newer jobd (unknown migrations: \(unknown.joined(separator: ", "))). "
                + "Run that jobd, or pass --database to use another file."
        case .cannotOpen(let path, let cause):
            "cannot open the database \(path): \(Self.describe(cause)). "
                + "Check that its directory is writable, or pass --database."
        case .writeFailed(let cause):
            "the database refused a write: \(Self.describe(cause)). Free disk space or fix permissions."
        case .closed:
            "the store is closed"
        case .inconsistent(let what):
            "the database contradicts itself: \(what). Check it with `sqlite3 FILE 'PRAGMA integrity_check'`."
        }
    }

    static func describe(_ error: any Error) -> String {
        if let error = error as? DatabaseError { return error.message ?? error.description }
        return String(describing: error)
    }
}
