import Synchronization

/// A setting a reload (SIGHUP) may change while jobd runs. Whoever uses it reads it at the moment it
/// applies (a stop's kill grace when the stop comes, a job's output limit when it starts), so a reload
/// takes effect from the next such moment without restarting anything. A setting of a struct reads its
/// fields directly (`configuration.outputLimitBytes`), under the lock, without copying the whole value.
@dynamicMemberLookup
public final class Setting<Value: Sendable>: Sendable {
    private let storage: Mutex<Value>

    public init(_ value: Value) {
        storage = Mutex(value)
    }

    public var value: Value {
        get { storage.withLock { $0 } }
        set { storage.withLock { $0 = newValue } }
    }

    public subscript<Field: Sendable>(dynamicMember field: KeyPath<Value, Field>) -> Field {
        storage.withLock { $0[keyPath: field] }
    }
}
