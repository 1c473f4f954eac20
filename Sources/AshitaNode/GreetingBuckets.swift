import AshitaCore

/// One token bucket per remote address for link greetings, so that no address makes the node sign and check
/// greetings at a rate of its choosing, and one for all addresses together, so that many addresses cannot add up
/// to more. At most `maxAddresses` are remembered: full buckets are forgotten first, and when none is full the
/// newcomer shares a bucket kept for all the rest.
struct GreetingBuckets {
    static let maxAddresses = 1024
    static let others = "*"
    let rate: Int
    let burst: Int
    private var buckets: [String: TokenBucket] = [:]
    private var all: TokenBucket

    init(rate: Int, burst: Int, rateAll: Int, burstAll: Int, at now: Timestamp) {
        (self.rate, self.burst) = (rate, burst)
        all = TokenBucket(rate: rateAll, burst: burstAll, at: now)
    }

    /// The address's own bucket first: an address over its bound spends none of what the others share.
    mutating func admit(_ remote: String, at now: Timestamp) -> Bool {
        var key = remote
        if buckets[key] == nil, buckets.count >= Self.maxAddresses {
            buckets = buckets.filter { !$0.value.isFull(at: now) }
            if buckets.count >= Self.maxAddresses { key = Self.others }
        }
        var bucket = buckets[key] ?? TokenBucket(rate: rate, burst: burst, at: now)
        let admitted = bucket.take(at: now)
        buckets[key] = bucket
        return admitted && all.take(at: now)
    }
}
