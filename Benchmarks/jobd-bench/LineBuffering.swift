#if canImport(Glibc)
@preconcurrency import Glibc
#endif

/// Makes `print` write each line as it comes, also through a pipe (make, tee): stdout is fully buffered
/// when it is not a terminal. (Glibc's `stdout` is a C global, hence the preconcurrency import.)
func lineBufferStandardOutput() {
    #if canImport(Glibc)
    setlinebuf(stdout)
    #endif
}
