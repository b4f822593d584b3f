import Glibc

/// The text of an errno value, as `strerror(3)` gives it.
func errnoText(_ code: Int32) -> String {
    String(cString: strerror(code))
}
