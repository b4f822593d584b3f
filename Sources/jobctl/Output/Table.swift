/// A plain text table: columns padded to their widest cell, two spaces apart, no trailing blanks.
struct Table {
    var header: [String]
    var rows: [[String]] = []

    init(_ header: String...) { self.header = header }

    mutating func add(_ row: [String]) { rows.append(row) }

    /// The table; with `width` (a terminal's), the last column is cut to fit it, marked with "…". Control
    /// characters in any cell (a job name with a newline) are shown escaped, so each row is one line.
    func render(width: Int? = Terminal.width) -> String {
        let all = ([header] + rows).map { $0.map(Self.oneLine) }
        let widths = header.indices.map { column in all.map { $0[column].count }.max() ?? 0 }
        let lastStart = widths.dropLast().reduce(0) { $0 + $1 + 2 }
        return all.map { row in
            row.enumerated().map { column, cell in
                guard column == row.count - 1 else { return cell.padded(to: widths[column]) }
                guard let width, width - lastStart >= 8, cell.count > width - lastStart else { return cell }
                return String(cell.prefix(width - lastStart - 1)) + "…"
            }.joined(separator: "  ")
        }.joined(separator: "\n")
    }

    private static func oneLine(_ cell: String) -> String {
        guard cell.unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7f }) else { return cell }
        var line = ""
        for scalar in cell.unicodeScalars {
            switch scalar {
            case "\n": line += "\\n"
            case "\t": line += "\\t"
            default:
                if scalar.value < 0x20 || scalar.value == 0x7f { line += "?" } else { line.unicodeScalars.append(scalar) }
            }
        }
        return line
    }
}

extension String {
    /// The string followed by spaces up to `width` characters.
    func padded(to width: Int) -> String {
        count >= width ? self : self + String(repeating: " ", count: width - count)
    }
}
