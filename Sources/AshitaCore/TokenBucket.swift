/// A token bucket: `rate` messages a second on average, `burst` at once. Pure: the clock is passed in.
public struct TokenBucket: Sendable {
    public let rate: Int
    public let burst: Int
    /// Thousandths of a token, so refills need no floating point.
    private var milliTokens: Int64
    private var last: Timestamp

    public init(rate: Int, burst: Int, at now: Timestamp) {
        precondition(rate > 0 && burst > 0, "a token bucket needs a positive rate and burst")
        self.rate = rate
        self.burst = burst
        self.milliTokens = Int64(burst) * 1000
        self.last = now
    }

    /// Takes one token if there is one.
    public mutating func take(at now: Timestamp) -> Bool {
        refill(at: now)
        guard milliTokens >= 1000 else { return false }
        milliTokens -= 1000
        return true
    }

    /// When the next token will be there (`now` if one is).
    public func nextToken(at now: Timestamp) -> Timestamp {
        var copy = self
        copy.refill(at: now)
        guard copy.milliTokens < 1000 else { return now }
        // Whole milliseconds, rounded up, so the token is really there then.
        let missing = 1000 - copy.milliTokens
        return now.adding(milliseconds: (missing + Int64(rate) - 1) / Int64(rate))
    }

    /// Whether the bucket is full at `now`, i.e. forgetting it would change nothing.
    public func isFull(at now: Timestamp) -> Bool {
        var copy = self
        copy.refill(at: now)
        return copy.milliTokens >= Int64(burst) * 1000
    }

    private mutating func refill(at now: Timestamp) {
        let elapsed = max(0, now.milliseconds - last.milliseconds)
        last = max(last, now)
        // rate tokens per 1000 ms = rate milli-tokens per ms.
        milliTokens = min(Int64(burst) * 1000, milliTokens + elapsed * Int64(rate))
    }
}
