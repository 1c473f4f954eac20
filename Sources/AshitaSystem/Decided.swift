import Synchronization

/// A value decided once, by whichever of several racers comes first (later ones are dropped), and awaited by
/// one waiter: a result racing its deadline, where the loser cannot be stopped (a blocking call, a thread).
public final class Decided<Value: Sendable>: Sendable {
    private struct State {
        var value: Value?
        var decided = false
        var waiter: CheckedContinuation<Value, Never>?
    }

    private let state = Mutex(State())

    public init() {}

    public func resolve(_ value: Value) {
        let waiter = state.withLock { s -> CheckedContinuation<Value, Never>? in
            guard !s.decided else { return nil }
            s.decided = true
            s.value = value
            defer { s.waiter = nil }
            return s.waiter
        }
        waiter?.resume(returning: value)
    }

    /// The value, once one racer has decided it.
    public func value() async -> Value {
        await withCheckedContinuation { continuation in
            let ready = state.withLock { s -> Value? in
                guard s.decided else {
                    s.waiter = continuation
                    return nil
                }
                return s.value
            }
            if let ready { continuation.resume(returning: ready) }
        }
    }
}
