import GRDB

/// The schema migrations, from `migrations/*.sql`, embedded in the binary at build time.
///
/// **Each migration runs once, in its own transaction, in file-name order.** A shipped file is frozen:
/// change the schema with a new numbered file.
enum Migrations {
    static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        for migration in embeddedMigrations {
            let sql = migration.sql
            migrator.registerMigration(migration.name) { db in
                try db.execute(sql: sql)
            }
        }
        return migrator
    }

    /// Brings the schema up to date, or refuses a database written by a newer binary.
    static func apply(to writer: any DatabaseWriter, path: String) throws {
        let migrator = migrator
        let unknown = try writer.read { db -> [String] in
            guard try migrator.hasBeenSuperseded(db) else { return [] }
            let known = Set(migrator.migrations)
            return try migrator.appliedIdentifiers(db).filter { !known.contains($0) }.sorted()
        }
        guard unknown.isEmpty else { throw StoreError.schemaNewerThanBinary(path: path, unknownMigrations: unknown) }
        try migrator.migrate(writer)
    }
}
