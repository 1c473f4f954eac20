import NIOCore
import Synchronization

/// The node's TCP connections, so that neither one address nor many can take every descriptor it has.
///
/// Each remote IP may hold `limitPerIP` connections. In all the node holds `limit`; when full, a newcomer
/// displaces the oldest connection that has not yet done anything (no complete request, no `auth`): such a
/// connection costs a descriptor and serves nobody, so a flood of them cannot starve well-behaved clients,
/// who do something at once. Only when every connection is doing something is the newcomer refused.
///
/// Counted on the event loops as connections open and close: a `Mutex`, because the accept path is
/// synchronous NIO code that cannot await an actor, and every critical section is a few dictionary updates.
final class ConnectionBudget: Sendable {
    let limit: Int
    let limitPerIP: Int

    private struct Entry {
        var ip: String
        var channel: any Channel
        /// Set while the connection has done nothing yet (or waits idle between requests): the mark of its
        /// place in the `idle` line.
        var idleMark: UInt64?
    }

    private struct State {
        var open: [UInt64: Entry] = [:]
        var perIP: [String: Int] = [:]
        /// Connections in the order they went idle, as (ticket, mark); stale pairs are skipped.
        var idle = CircularBuffer<(ticket: UInt64, mark: UInt64)>()
        var next: UInt64 = 1
        var displaced = 0
    }

    private let state = Mutex(State())

    init(limit: Int, limitPerIP: Int) {
        self.limit = limit
        self.limitPerIP = limitPerIP
    }

    enum Admission {
        case admitted(ConnectionSlot)
        case overIPLimit
        case full
    }

    /// Counts a new connection from `ip`; it starts idle. Displaces the oldest idle connection when full.
    func admit(_ ip: String, channel: any Channel) -> Admission {
        let (admission, displaced): (Admission, (any Channel)?) = state.withLock { s in
            guard s.perIP[ip, default: 0] < limitPerIP else { return (.overIPLimit, nil) }
            var displaced: (any Channel)?
            if s.open.count >= limit {
                guard let victim = Self.oldestIdle(&s) else { return (.full, nil) }
                displaced = s.open[victim]?.channel
                Self.forget(victim, &s)
                s.displaced += 1
            }
            let ticket = s.next
            s.next += 1
            s.open[ticket] = Entry(ip: ip, channel: channel, idleMark: nil)
            s.perIP[ip, default: 0] += 1
            Self.markIdle(ticket, &s)
            return (.admitted(ConnectionSlot(budget: self, ticket: ticket)), displaced)
        }
        displaced?.close(promise: nil)
        return admission
    }

    /// Connections displaced so far (for tests and the operator).
    var displacedCount: Int { state.withLock { $0.displaced } }
    var openCount: Int { state.withLock { $0.open.count } }

    fileprivate func busy(_ ticket: UInt64) {
        state.withLock { $0.open[ticket]?.idleMark = nil }
    }

    fileprivate func idle(_ ticket: UInt64) {
        state.withLock { s in
            guard s.open[ticket] != nil, s.open[ticket]?.idleMark == nil else { return }
            Self.markIdle(ticket, &s)
        }
    }

    fileprivate func release(_ ticket: UInt64) {
        state.withLock { Self.forget(ticket, &$0) }
    }

    private static func markIdle(_ ticket: UInt64, _ s: inout State) {
        let mark = s.next
        s.next += 1
        s.open[ticket]!.idleMark = mark
        s.idle.append((ticket, mark))
        // Stale pairs pile up as connections go busy and idle again: compact when they outnumber the live.
        if s.idle.count > 2 * s.open.count + 64 {
            s.idle = CircularBuffer(s.idle.filter { s.open[$0.ticket]?.idleMark == $0.mark })
        }
    }

    private static func oldestIdle(_ s: inout State) -> UInt64? {
        while let first = s.idle.popFirst() {
            if s.open[first.ticket]?.idleMark == first.mark { return first.ticket }
        }
        return nil
    }

    private static func forget(_ ticket: UInt64, _ s: inout State) {
        guard let entry = s.open.removeValue(forKey: ticket) else { return }
        let remaining = s.perIP[entry.ip, default: 1] - 1
        s.perIP[entry.ip] = remaining > 0 ? remaining : nil
    }
}

/// One connection's place in the budget: busy while it does something, idle while it waits, released when it
/// closes.
struct ConnectionSlot: Sendable {
    let budget: ConnectionBudget
    let ticket: UInt64

    /// It did something (a complete request, an `auth`): it is not displaced.
    func busy() { budget.busy(ticket) }
    /// It waits for a next request: it may be displaced, oldest first.
    func idle() { budget.idle(ticket) }
    func release() { budget.release(ticket) }
}

/// Closes a refused connection as soon as it is active, or at once if it is already. (A connection whose
/// initializer fails is never registered, so closing it there and failing left its socket open: a refused
/// connection must not keep its descriptor.)
final class RefuseOnActive: ChannelInboundHandler {
    typealias InboundIn = NIOAny

    func handlerAdded(context: ChannelHandlerContext) {
        if context.channel.isActive { context.close(promise: nil) }
    }

    func channelActive(context: ChannelHandlerContext) {
        context.close(promise: nil)
    }
}
