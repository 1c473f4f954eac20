/// When `MemoryReclaimer` trims the heap and releases code pages, decided from the CPU time the process used
/// in each `tick` (pure: the reclaimer measures, this decides).
///
/// - The heap is trimmed every `trimInterval`: cheap when there is little to return.
/// - Code pages are released at the first quiet tick (less than `quietCPU` used in it) once the process is
///   `trimInterval` old: what only the start ran goes. Not while the node is busy: a node started into a mesh
///   forming, or into a burst of clients, would read its 45 KB of smaps and then fault back in at once the code
///   it was running (measured: with 60 nodes joining one another, releases during the join took a twentieth of
///   the machine's CPU). A node that is never quiet releases them after `12 × trimInterval` all the same.
/// - They are released again at the first quiet tick after the process used `burstCPU` since the last release,
///   at most once every `trimInterval`: a burst of a thousand clients faults in megabytes of code (the soak
///   measured 5.5 MiB of the executable's and 0.9 of the libraries') that an idle node never runs again. An idle
///   node reaches `burstCPU` only every few minutes, and then gives back little.
public struct ReclaimSchedule: Sendable, Equatable {
    public var tick: Duration = .seconds(1)
    public var trimInterval: Duration = .seconds(5)
    public var quietCPU: Duration = .milliseconds(20)
    public var burstCPU: Duration = .seconds(1)

    /// What to do after a tick, and why code pages are released (for the log).
    public struct Step: Equatable, Sendable {
        public var trim: Bool
        public var releaseCode: Bool
        public var reason: Reason?
    }

    public enum Reason: String, Sendable, Equatable, CustomStringConvertible {
        case start, burst
        public var description: String { rawValue }
    }

    private var age = Duration.zero
    private var sinceTrim = Duration.zero
    private var sinceRelease: Duration?
    private var cpuSinceRelease = Duration.zero

    public init() {}

    /// One `tick` has passed, in which the process used `cpuUsed`.
    public mutating func next(cpuUsed: Duration) -> Step {
        age += tick
        sinceTrim += tick
        let quiet = cpuUsed < quietCPU
        let reason: Reason?
        if let since = sinceRelease {
            cpuSinceRelease += cpuUsed
            sinceRelease = since + tick
            reason = quiet && cpuSinceRelease >= burstCPU && since + tick >= trimInterval ? .burst : nil
        } else {
            reason = age >= trimInterval && (quiet || age >= trimInterval * 12) ? .start : nil
        }
        if reason != nil {
            sinceRelease = .zero
            cpuSinceRelease = .zero
        }
        let trim = sinceTrim >= trimInterval
        if trim { sinceTrim = .zero }
        return Step(trim: trim, releaseCode: reason != nil, reason: reason)
    }
}
