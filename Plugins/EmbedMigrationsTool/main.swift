import Foundation

// Usage: embed-migrations OUTPUT.swift FILE.sql...
// Writes `let embeddedMigrations: [(name: String, sql: String)]`, in the order given.
let arguments = CommandLine.arguments.dropFirst()
guard let output = arguments.first else {
    FileHandle.standardError.write(Data("usage: embed-migrations OUTPUT.swift FILE.sql...\n".utf8))
    exit(64)
}
var source = "// Generated from migrations/*.sql by the EmbedMigrations plugin. Do not edit.\n"
source += "let embeddedMigrations: [(name: String, sql: String)] = [\n"
for path in arguments.dropFirst() {
    let name = URL(fileURLWithPath: path).deletingPathExtension().lastPathComponent
    let sql = try String(contentsOfFile: path, encoding: .utf8)
    // A raw string with enough #s that no SQL text can end it early.
    var hashes = "#"
    while sql.contains("\"" + hashes) { hashes += "#" }
    source += "    (name: \"\(name)\", sql: \(hashes)\"\"\"\n\(sql)\n\"\"\"\(hashes)),\n"
}
source += "]\n"
// Unchanged text is not written again: each `swift build --product` relinks this tool, which reruns it,
// and a new file every time recompiled JobdStore on every `make run` (issue 18: 15 s each time).
if (try? String(contentsOfFile: output, encoding: .utf8)) != source {
    try source.write(toFile: output, atomically: true, encoding: .utf8)
}
