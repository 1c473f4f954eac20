import Synchronization

/// Open TCP connections per remote IP, so one address cannot take every socket the node has. Counted on the
/// event loops as connections open and close: a `Mutex`, because the accept path is synchronous NIO code
/// that cannot await an actor, and the critical section is one dictionary update.
final class ConnectionCounter: Sendable {
    private let counts = Mutex<[String: Int]>([:])
    let limitPerIP: Int

    init(limitPerIP: Int) { self.limitPerIP = limitPerIP }

    /// Counts a new connection from `ip`, or returns false (counting nothing) when `ip` is at its limit.
    func admit(_ ip: String) -> Bool {
        counts.withLock { counts in
            let current = counts[ip, default: 0]
            guard current < limitPerIP else { return false }
            counts[ip] = current + 1
            return true
        }
    }

    func release(_ ip: String) {
        counts.withLock { counts in
            let remaining = counts[ip, default: 1] - 1
            counts[ip] = remaining > 0 ? remaining : nil
        }
    }
}
