import Glibc

/// What jobctl needs to know of the terminal it prints to.
enum Terminal {
    /// The width of the terminal on stdout, or nil when stdout is a pipe or a file (nothing is cut then).
    static var width: Int? { size.map { Int($0.ws_col) } }

    /// The height of the terminal on stdout, in rows, or nil when stdout is a pipe or a file.
    static var height: Int? { size.flatMap { $0.ws_row > 0 ? Int($0.ws_row) : nil } }

    private static var size: winsize? {
        guard isatty(1) == 1 else { return nil }
        var size = winsize()
        // TIOCGWINSZ: not exported by Swift's Glibc module as a usable constant on every toolchain.
        guard ioctl(1, UInt(0x5413), &size) == 0, size.ws_col > 0 else { return nil }
        return size
    }
}
