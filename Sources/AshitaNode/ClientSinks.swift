import AshitaCore
import NIOCore

/// The hub's way to its clients' sockets: which connection is which client, which of them the node is closing
/// (and why), and the frames on their way, handed to the connections' writers grouped by event loop: a fan-out to
/// thousands is one task per event loop, each socket flushed once, instead of a wake-up and a syscall per frame.
struct ClientSinks {
    private enum Operation {
        case write(ClientSink, ByteBuffer)
        case close(ClientSink, CloseReason)
    }

    private var sinks: [ClientID: ClientSink] = [:]
    /// Clients the node is closing, and why: what they still send is dropped unread.
    private var closing: [ClientID: CloseReason] = [:]
    private var pending: [ObjectIdentifier: (loop: any EventLoop, operations: [Operation])] = [:]
    /// Operations gathered since the last `submit()`.
    private(set) var pendingCount = 0

    mutating func register(_ id: ClientID, _ sink: ClientSink) { sinks[id] = sink }

    /// The connection ended: forgotten, with the reason the node was closing it for, if it was.
    mutating func forget(_ id: ClientID) -> CloseReason? {
        sinks[id] = nil
        return closing.removeValue(forKey: id)
    }

    /// Registered, and not being closed by the node: what it sends still counts.
    func isOpen(_ id: ClientID) -> Bool { sinks[id] != nil && closing[id] == nil }

    func isClosing(_ id: ClientID) -> Bool { closing[id] != nil }

    mutating func write(_ frame: ByteBuffer, to id: ClientID) {
        guard let client = sinks[id] else { return }
        append(.write(client, frame), on: client.outbound.eventLoop)
    }

    /// Closes a client with `reason`, once: a second close of the same client is ignored.
    mutating func close(_ id: ClientID, _ reason: CloseReason) {
        guard let client = sinks[id], closing[id] == nil else { return }
        closing[id] = reason
        append(.close(client, reason), on: client.outbound.eventLoop)
    }

    /// Closes every client with `reason` (the node is shutting down).
    mutating func closeAll(_ reason: CloseReason) {
        for id in sinks.keys.sorted() { close(id, reason) }
    }

    private mutating func append(_ operation: Operation, on loop: any EventLoop) {
        let key = ObjectIdentifier(loop)
        if pending[key] == nil { pending[key] = (loop, []) }
        pending[key]!.operations.append(operation)
        pendingCount += 1
    }

    /// Hands everything gathered to the event loops, in order per client, and starts afresh.
    mutating func submit() {
        for (_, batch) in pending {
            let operations = batch.operations
            // The hub's own loop is served at once; the others get one task each.
            if batch.loop.inEventLoop {
                Self.carryOut(operations)
            } else {
                batch.loop.execute { Self.carryOut(operations) }
            }
        }
        pending = [:]
        pendingCount = 0
    }

    /// Carries out one loop's share in order per client. A client's frames in a batch reach its writer as one
    /// buffer (copied together when there are several: in a burst of auths a client gets dozens per batch, and
    /// one write through the pipeline costs more than copying a few hundred bytes); a lone frame goes as the
    /// buffer shared with every other recipient.
    private static func carryOut(_ operations: [Operation]) {
        var writes: [(outbound: WebSocketOutbound, frames: ByteBuffer, count: Int)] = []
        var position: [ObjectIdentifier: Int] = [:]
        func send(_ index: Int) {
            guard writes[index].count > 0 else { return }
            writes[index].outbound.send(encoded: writes[index].frames)
            writes[index].count = 0
        }
        for operation in operations {
            switch operation {
            case .write(let client, let frame):
                let outbound = client.outbound.value
                guard let index = position[ObjectIdentifier(outbound)] else {
                    position[ObjectIdentifier(outbound)] = writes.count
                    writes.append((outbound, frame, 1))
                    continue
                }
                switch writes[index].count {
                case 0:
                    writes[index].frames = frame
                case 1:
                    var combined = ByteBuffer()
                    combined.reserveCapacity(writes[index].frames.readableBytes * 8)
                    combined.writeImmutableBuffer(writes[index].frames)
                    combined.writeImmutableBuffer(frame)
                    writes[index].frames = combined
                default:
                    writes[index].frames.writeImmutableBuffer(frame)
                }
                writes[index].count += 1
            case .close(let client, let reason):
                // What was written before the close goes first.
                let outbound = client.outbound.value
                if let index = position[ObjectIdentifier(outbound)] { send(index) }
                outbound.close(reason)
            }
        }
        for index in writes.indices {
            send(index)
            writes[index].outbound.flush()
        }
    }
}

/// Where the hub writes one client's frames: the connection's one writer, bound to its event loop.
struct ClientSink: Sendable {
    let outbound: NIOLoopBound<WebSocketOutbound>
}
