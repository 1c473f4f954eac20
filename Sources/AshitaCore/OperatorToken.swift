/// The operator's secret: 32 random bytes as 64 lowercase hex digits.
public enum OperatorToken {
    public static let byteCount = 32

    public static func isWellFormed(_ token: String) -> Bool {
        Hex.decode(token)?.count == byteCount
    }

    /// Compares without an early exit, so the time taken does not tell how much of a guess was right.
    public static func matches(_ candidate: String, _ secret: String) -> Bool {
        let a = Array(candidate.utf8)
        let b = Array(secret.utf8)
        var difference = UInt8(truncatingIfNeeded: a.count ^ b.count) | UInt8(a.count != b.count ? 1 : 0)
        for i in 0..<b.count {
            difference |= (i < a.count ? a[i] : 0) ^ b[i]
        }
        return difference == 0
    }
}

/// Counts failures per key (a remote IP) in a fixed window; past the limit the key is refused until the window ends.
/// Memory is bounded: at most `maxKeys` keys are tracked, expired ones are dropped first.
public struct FailureLimiter: Sendable {
    public var limit: Int
    public var windowMilliseconds: Int64
    public var maxKeys: Int
    private var windows: [String: (start: Timestamp, failures: Int)] = [:]

    public init(limit: Int = 5, windowMilliseconds: Int64 = 60_000, maxKeys: Int = 10_000) {
        self.limit = limit
        self.windowMilliseconds = windowMilliseconds
        self.maxKeys = maxKeys
    }

    /// Keys tracked now: never more than `maxKeys`.
    public var trackedKeys: Int { windows.count }

    public func isBlocked(_ key: String, at now: Timestamp) -> Bool {
        guard let w = windows[key], now.milliseconds - w.start.milliseconds < windowMilliseconds else { return false }
        return w.failures >= limit
    }

    public mutating func recordFailure(_ key: String, at now: Timestamp) {
        if let w = windows[key], now.milliseconds - w.start.milliseconds < windowMilliseconds {
            windows[key] = (w.start, w.failures + 1)
            return
        }
        if windows.count >= maxKeys {
            windows = windows.filter { now.milliseconds - $0.value.start.milliseconds < windowMilliseconds }
            if windows.count >= maxKeys, let victim = windows.min(by: { $0.value.start < $1.value.start })?.key {
                windows[victim] = nil
            }
        }
        windows[key] = (now, 1)
    }
}
