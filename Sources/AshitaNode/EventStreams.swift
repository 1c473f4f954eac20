import AshitaCore
import NIOCore

/// The subscribers of `/api/v1/events`: who gets which journal entries, each through a bounded buffer, and
/// how many streams one address may hold. A subscriber that falls behind its buffer is ended (it resumes with
/// its last id); entries are encoded once for every subscriber.
struct EventStreams {
    private struct Subscriber {
        var types: Set<String>?
        var continuation: AsyncStream<ByteBuffer>.Continuation
        /// Whose it is, as per-address limits count (an IPv6 address by its /64).
        var key: String
    }

    private var subscribers: [UInt64: Subscriber] = [:]
    private var nextID: UInt64 = 1
    private let limits: NodeLimits

    init(limits: NodeLimits) { self.limits = limits }

    struct Subscription {
        var backlog: [JournalEntry]
        var missed: Bool
        var position: String
        /// Each entry as the stream sends it (`id:`, `event:`, `data:`), encoded once for every subscriber.
        var live: AsyncStream<ByteBuffer>
        var id: UInt64
    }

    enum SubscribeResult {
        case accepted(Subscription)
        case refused(Refusal)

        enum Refusal { case shuttingDown, full, fullForAddress }
    }

    /// A new subscriber: the backlog after its `Last-Event-ID` in `journal`, then live entries.
    mutating func subscribe(types: Set<String>?, lastEventID: String?, remote: String, journal: EventJournal) -> SubscribeResult {
        guard subscribers.count < limits.maxEventStreams else { return .refused(.full) }
        let key = IPAddress.limitKey(remote)
        guard subscribers.values.count(where: { $0.key == key }) < limits.maxEventStreamsPerIP else {
            return .refused(.fullForAddress)
        }
        let (stream, continuation) = AsyncStream.makeStream(
            of: ByteBuffer.self, bufferingPolicy: .bufferingOldest(limits.eventStreamBuffer))
        let id = nextID
        nextID += 1
        subscribers[id] = Subscriber(types: types, continuation: continuation, key: key)
        let (backlog, missed) = journal.entries(after: lastEventID)
        return .accepted(
            Subscription(
                backlog: backlog.filter { types?.contains($0.type) ?? true }, missed: missed,
                position: journal.position, live: stream, id: id))
    }

    mutating func unsubscribe(_ id: UInt64) {
        subscribers.removeValue(forKey: id)?.continuation.finish()
    }

    mutating func publish(_ entry: JournalEntry) {
        guard !subscribers.isEmpty else { return }
        // Encoded once; every subscriber's buffer holds the same bytes.
        let encoded = HTTPConnection.encode(entry)
        for (id, subscriber) in subscribers where subscriber.types?.contains(entry.type) ?? true {
            if case .dropped = subscriber.continuation.yield(encoded) {
                subscriber.continuation.finish()
                subscribers[id] = nil
            }
        }
    }

    /// Ends every stream.
    mutating func endAll() {
        for subscriber in subscribers.values { subscriber.continuation.finish() }
        subscribers = [:]
    }
}
