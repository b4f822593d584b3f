import Testing

/// Every integration suite is nested here and runs one test at a time: the tests time real processes
/// (a CPU burner must get its core to be learned as CPU-bound), so they must not share the 2 cores
/// with each other.
@Suite(.serialized) enum AgainstTheRealDaemon {}
