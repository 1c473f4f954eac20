import AshitaCore
import AshitaSystem

/// Where the node reads the time, passed in (`NodeConfiguration.clock`) so that it can run under a simulated
/// clock: the wall clock for what it records and tells (the journal, `since`, known nodes), and a clock that
/// never jumps for uptime and the announcement checks' rates and caches.
public struct NodeClock: Sendable {
    /// Now, on the wall clock.
    public var wall: @Sendable () -> Timestamp
    /// Now, on a clock that never jumps, from any fixed start.
    public var monotonic: @Sendable () -> Duration

    public init(wall: @escaping @Sendable () -> Timestamp, monotonic: @escaping @Sendable () -> Duration) {
        self.wall = wall
        self.monotonic = monotonic
    }

    /// The system's clocks.
    public static let system: NodeClock = {
        let start = ContinuousClock.now
        return NodeClock(wall: { .now() }, monotonic: { .now - start })
    }()

    /// The monotonic clock as milliseconds, for rules that count time in `Timestamp`s.
    func monotonicTimestamp() -> Timestamp {
        let (seconds, attoseconds) = monotonic().components
        return Timestamp(milliseconds: seconds * 1000 + attoseconds / 1_000_000_000_000_000)
    }
}
