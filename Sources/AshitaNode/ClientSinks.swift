import AshitaCore
import NIOCore
import NIOWebSocket

#if canImport(Glibc)
import Glibc
#endif

/// Writes the hub's frames straight onto client channels, grouped by event loop: a fan-out to thousands is one
/// task per event loop, each channel flushed once, instead of a wake-up and a syscall per frame.
///
/// A reader too slow to keep up fills its channel's write buffer past the high watermark (`isWritable` false);
/// it is then closed with 1008 instead of growing the node's memory.
struct ClientSinks {
    private enum Operation {
        case write(ClientSink, ByteBuffer)
        case close(any Channel, CloseReason)
    }

    private var pending: [ObjectIdentifier: (loop: any EventLoop, operations: [Operation])] = [:]

    mutating func write(_ frame: ByteBuffer, to client: ClientSink) {
        append(.write(client, frame), on: client.channel)
    }

    mutating func close(_ channel: any Channel, _ reason: CloseReason) {
        append(.close(channel, reason), on: channel)
    }

    private mutating func append(_ operation: Operation, on channel: any Channel) {
        let key = ObjectIdentifier(channel.eventLoop)
        if pending[key] == nil { pending[key] = (channel.eventLoop, []) }
        pending[key]!.operations.append(operation)
    }

    /// Hands everything gathered to the event loops, in order per channel, and starts afresh.
    mutating func submit() {
        for (_, batch) in pending {
            let operations = batch.operations
            batch.loop.execute {
                var touched: [ObjectIdentifier: any Channel] = [:]
                var closing: Set<ObjectIdentifier> = []
                for operation in operations {
                    switch operation {
                    case .write(let client, let frame):
                        let channel = client.channel
                        let id = ObjectIdentifier(channel)
                        guard !closing.contains(id), channel.isActive else { continue }
                        guard channel.isWritable else {
                            closing.insert(id)
                            closeGracefully(channel, .tooSlow)
                            continue
                        }
                        client.outlet.value.write(encoded: frame)
                        touched[id] = channel
                    case .close(let channel, let reason):
                        let id = ObjectIdentifier(channel)
                        guard closing.insert(id).inserted else { continue }
                        closeGracefully(channel, reason)
                    }
                }
                for (id, channel) in touched where !closing.contains(id) { channel.flush() }
            }
        }
        pending = [:]
    }
}

/// A close frame after what is queued, then FIN; the socket itself closes when the peer answers (or hangs
/// up), and at the latest after `grace`, even if the frame could not be written (a reader that stopped).
///
/// Not closing at once matters: closing a socket that still has unread input (a flooding client) sends a
/// reset, and a reset can make the peer's kernel drop the close frame before the peer reads it.
///
/// Meanwhile what the client sends is read and dropped below everything else: not decoded, not handed on
/// (a flooder's frames cost the node nothing), yet read, so the client's answer or its hang-up is seen and its
/// unread bytes cannot turn the close into a reset that loses the close frame.
func closeGracefully(_ channel: any Channel, _ reason: CloseReason, grace: TimeAmount = .seconds(2)) {
    if channel.eventLoop.inEventLoop, (try? channel.pipeline.syncOperations.handler(type: InboundDiscarder.self)) == nil {
        try? channel.pipeline.syncOperations.addHandler(InboundDiscarder(), position: .first)
        // Dropped bytes are read in large gulps: a flooder costs few system calls.
        try? channel.syncOptions?.setOption(.recvAllocator, value: FixedSizeRecvByteBufferAllocator(capacity: 1 << 16))
    }
    let deadline = channel.eventLoop.scheduleTask(in: grace) { abortConnection(channel) }
    channel.closeFuture.whenComplete { _ in deadline.cancel() }
    channel.writeAndFlush(closeFrame(code: reason.code, reason: reason.reason)).whenComplete { result in
        guard case .success = result else { return channel.close(promise: nil) }
        channel.close(mode: .output, promise: nil)
    }
}

/// Where the hub writes one client's frames: its channel, and the outlet for frames encoded once for many.
struct ClientSink: Sendable {
    let channel: any Channel
    let outlet: NIOLoopBound<EncodedFrameOutlet>
}

func closeFrame(code: UInt16, reason: String) -> WebSocketFrame {
    var data = ByteBuffer()
    data.writeInteger(code)
    data.writeString(String(reason.utf8.prefix(120)) ?? "")
    return WebSocketFrame(fin: true, opcode: .connectionClose, data: data)
}

/// Closes with a reset (SO_LINGER 0) rather than a FIN: for a peer that does not read, a FIN would wait behind
/// the unread data, and the kernel would keep that data for minutes after the node let go of the socket. A
/// reset drops it at once, in the node and in the kernel.
func abortConnection(_ channel: any Channel) {
    guard let socket = channel as? any SocketOptionProvider else { return channel.close(promise: nil) }
    socket.setSoLinger(linger(l_onoff: 1, l_linger: 0)).whenComplete { _ in channel.close(promise: nil) }
}

/// At the tail of a WebSocket pipeline: remembers the first close frame the node sent (whoever sent it: the
/// hub, a slow reader's bound, a dead link's heartbeat), so the journal can say why the node ended a connection.
final class CloseRecorder: ChannelOutboundHandler, RemovableChannelHandler {
    typealias OutboundIn = WebSocketFrame
    typealias OutboundOut = WebSocketFrame

    private(set) var sent: CloseReason?

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        let frame = unwrapOutboundIn(data)
        if sent == nil, frame.opcode == .connectionClose {
            var payload = frame.data
            if let code = payload.readInteger(as: UInt16.self) {
                sent = CloseReason(code: code, reason: payload.readString(length: payload.readableBytes) ?? "")
            }
        }
        context.write(data, promise: promise)
    }
}

/// At the bottom of a pipeline whose connection is being closed: drops whatever arrives.
final class InboundDiscarder: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {}
}
