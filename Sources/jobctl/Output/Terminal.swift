import Glibc

/// What jobctl needs to know of the terminal it prints to.
enum Terminal {
    /// The width of the terminal on stdout, or nil when stdout is a pipe or a file (nothing is cut then).
    static var width: Int? {
        guard isatty(1) == 1 else { return nil }
        var size = winsize()
        // TIOCGWINSZ: not exported by Swift's Glibc module as a usable constant on every toolchain.
        guard ioctl(1, UInt(0x5413), &size) == 0, size.ws_col > 0 else { return nil }
        return Int(size.ws_col)
    }
}
