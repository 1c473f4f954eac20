import AshitaCore
import NIOCore

/// Hands the hub's frames to the clients' writers, grouped by event loop: a fan-out to thousands is one task per
/// event loop, each socket flushed once, instead of a wake-up and a syscall per frame.
struct ClientSinks {
    private enum Operation {
        case write(ClientSink, ByteBuffer)
        case close(ClientSink, CloseReason)
    }

    private var pending: [ObjectIdentifier: (loop: any EventLoop, operations: [Operation])] = [:]

    mutating func write(_ frame: ByteBuffer, to client: ClientSink) {
        append(.write(client, frame), on: client.outbound.eventLoop)
    }

    mutating func close(_ client: ClientSink, _ reason: CloseReason) {
        append(.close(client, reason), on: client.outbound.eventLoop)
    }

    private mutating func append(_ operation: Operation, on loop: any EventLoop) {
        let key = ObjectIdentifier(loop)
        if pending[key] == nil { pending[key] = (loop, []) }
        pending[key]!.operations.append(operation)
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
    }

    private static func carryOut(_ operations: [Operation]) {
        var touched: [ObjectIdentifier: WebSocketOutbound] = [:]
        for operation in operations {
            switch operation {
            case .write(let client, let frame):
                let outbound = client.outbound.value
                outbound.send(encoded: frame)
                touched[ObjectIdentifier(outbound)] = outbound
            case .close(let client, let reason):
                client.outbound.value.close(reason)
            }
        }
        for outbound in touched.values { outbound.flush() }
    }
}

/// Where the hub writes one client's frames: the connection's one writer, bound to its event loop.
struct ClientSink: Sendable {
    let outbound: NIOLoopBound<WebSocketOutbound>
}
