import ArgumentParser

/// A time given in seconds on the command line (`--auth-timeout 0.5`), kept as a `Duration` to the nanosecond
/// and shown as it was typed.
public struct Seconds: ExpressibleByArgument, CustomStringConvertible, Sendable {
    public let duration: Duration
    public let description: String

    public init(_ duration: Duration) {
        self.duration = duration
        let (seconds, attoseconds) = duration.components
        description = attoseconds == 0 ? "\(seconds)" : "\(Double(seconds) + Double(attoseconds) / 1e18)"
    }

    public init?(argument: String) {
        guard let value = Double(argument), value.isFinite else { return nil }
        duration = .seconds(value)
        description = argument
    }

    public var defaultValueDescription: String { description }

    /// Whether it is from `lower` to `upper`, both included.
    public func isWithin(_ lower: Duration, _ upper: Duration) -> Bool { duration >= lower && duration <= upper }
}
