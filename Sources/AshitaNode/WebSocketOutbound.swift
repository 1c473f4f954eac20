import AshitaCore
import NIOCore
import NIOWebSocket

#if canImport(Glibc)
import Glibc
#endif

/// The one writer of a client's WebSocket. Everything the node sends on the socket goes through it, on the
/// channel's event loop, in the order it was asked: the hub's frames, pongs, the node's pings and the close
/// sequence. Each is checked against the outbound bound (the channel's high watermark): a reader that lets its
/// queue reach it is closed with 1008 instead of growing the node's memory.
///
/// It sits at the socket end of the pipeline (under TLS, just after the TLS handler), so the hub's frames, encoded
/// once for every recipient, go from here to the socket as they are. The control frames it makes itself go
/// through NIO's frame encoder from the pipeline's tail.
final class WebSocketOutbound: ChannelOutboundHandler, RemovableChannelHandler, DeadlineTarget {
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private let eventLoop: any EventLoop
    private let deadlines: LoopDeadlines
    private var context: ChannelHandlerContext?
    /// The close frame the node sent, if any: why the node ended the connection, for the journal.
    private(set) var closeSent: CloseReason?
    /// The next ping's deadline, while the heartbeat runs.
    private var heartbeat: LoopDeadlines.Token?
    private var heartbeatInterval = TimeAmount.zero
    private var unansweredPings = 0
    private var unflushed = false

    /// `deadlines`: those of the channel's event loop, where the heartbeat's pings are timed.
    init(eventLoop: any EventLoop, deadlines: LoopDeadlines) {
        self.eventLoop = eventLoop
        self.deadlines = deadlines
    }

    func handlerAdded(context: ChannelHandlerContext) { self.context = context }

    func handlerRemoved(context: ChannelHandlerContext) {
        stopHeartbeat()
        self.context = nil
    }

    /// Whether more may be written: the connection is open, no close was sent, and the reader is within its bound
    /// (if not, it is closed with 1008 here).
    private func mayWrite(_ channel: any Channel) -> Bool {
        guard closeSent == nil, channel.isActive else { return false }
        guard channel.isWritable else {
            close(.tooSlow)
            return false
        }
        return true
    }

    /// A frame the hub encoded (shared by every recipient); it reaches the socket at the next `flush()`.
    func send(encoded frame: ByteBuffer) {
        guard let context, mayWrite(context.channel) else { return }
        context.write(wrapOutboundOut(frame), promise: nil)
        unflushed = true
    }

    func flush() {
        guard unflushed, let context else { return }
        unflushed = false
        context.flush()
    }

    /// The answer to a ping: output like any other, so a client that does not read its pongs is closed, not
    /// buffered for.
    func pong(_ payload: ByteBuffer) {
        guard let context, mayWrite(context.channel) else { return }
        context.channel.writeAndFlush(WebSocketFrame(fin: true, opcode: .pong, data: payload), promise: nil)
    }

    // MARK: Pings

    /// A ping every `interval`; when two in a row go unanswered the link is dead (a peer that vanished without
    /// a FIN) and is closed, so its home is announced `nodeLeft`.
    func startHeartbeat(every interval: TimeAmount) {
        guard context != nil, heartbeat == nil else { return }
        heartbeatInterval = interval
        heartbeat = deadlines.schedule(in: interval, self)
    }

    func deadlinePassed() {
        heartbeat = nil
        guard let context, mayWrite(context.channel) else { return }
        if unansweredPings >= 2 { return close(.noPong) }
        unansweredPings += 1
        context.channel.writeAndFlush(WebSocketFrame(fin: true, opcode: .ping, data: ByteBuffer(string: "ashita")), promise: nil)
        heartbeat = deadlines.schedule(in: heartbeatInterval, self)
    }

    private func stopHeartbeat() {
        guard let heartbeat else { return }
        deadlines.cancel(heartbeat)
        self.heartbeat = nil
    }

    func pongReceived() { unansweredPings = 0 }

    // MARK: Closing

    /// Closes the connection: a close frame after what is queued, then FIN; the socket itself closes when the peer
    /// answers (or hangs up), and at the latest after `grace`, even if the frame could not be written (a reader
    /// that stopped).
    ///
    /// Not closing at once matters: closing a socket that still has unread input (a flooding client) sends a
    /// reset, and a reset can make the peer's kernel drop the close frame before the peer reads it.
    ///
    /// Meanwhile what the client sends is read and dropped below everything else: not decoded, not handed on
    /// (a flooder's frames cost the node nothing), yet read, so the client's answer or its hang-up is seen and its
    /// unread bytes cannot turn the close into a reset that loses the close frame.
    func close(_ reason: CloseReason, grace: TimeAmount = .seconds(2)) {
        guard let context, closeSent == nil else { return }
        let channel = context.channel
        if (try? channel.pipeline.syncOperations.handler(type: InboundDiscarder.self)) == nil {
            try? channel.pipeline.syncOperations.addHandler(InboundDiscarder(), position: .first)
            // Dropped bytes are read in gulps that grow to 64 KiB while reads come full: a flooder costs few system
            // calls, and a quiet client (thousands of them at shutdown) no more than the 1 KiB it had.
            try? channel.syncOptions?.setOption(
                .recvAllocator, value: AdaptiveRecvByteBufferAllocator(minimum: 1024, initial: 1024, maximum: 1 << 16))
        }
        let deadline = channel.eventLoop.scheduleTask(in: grace) { abortConnection(channel) }
        channel.closeFuture.whenComplete { _ in deadline.cancel() }
        emitClose(reason, on: channel).whenComplete { result in
            guard case .success = result else { return channel.close(promise: nil) }
            channel.close(mode: .output, promise: nil)
        }
    }

    /// A close frame now, where the connection closes the socket itself once it is written: the answer to the
    /// client's own close, a protocol error, a refusal at shutdown. Only the first close frame is ever sent.
    func writeCloseFrame(_ reason: CloseReason, grace: TimeAmount = .seconds(2)) -> EventLoopFuture<Void> {
        guard let context, closeSent == nil else { return eventLoop.makeSucceededVoidFuture() }
        // A reader that lets its window fill never takes the frame: the socket is reset after `grace` all the same.
        let channel = context.channel
        let deadline = channel.eventLoop.scheduleTask(in: grace) { abortConnection(channel) }
        channel.closeFuture.whenComplete { _ in deadline.cancel() }
        return emitClose(reason, on: channel)
    }

    private func emitClose(_ reason: CloseReason, on channel: any Channel) -> EventLoopFuture<Void> {
        closeSent = reason
        stopHeartbeat()
        // A control frame's payload is at most 125 bytes: the code and up to 123 bytes of whole characters.
        var text = Substring(reason.reason)
        while text.utf8.count > 123 { text = text.dropLast() }
        var data = channel.allocator.buffer(capacity: 2 + text.utf8.count)
        data.write(webSocketErrorCode: WebSocketErrorCode(codeNumber: Int(reason.code)))
        data.writeString(String(text))
        return channel.writeAndFlush(WebSocketFrame(fin: true, opcode: .connectionClose, data: data))
    }
}

/// Closes with a reset (SO_LINGER 0) rather than a FIN: for a peer that does not read, a FIN would wait behind
/// the unread data, and the kernel would keep that data for minutes after the node let go of the socket. A
/// reset drops it at once, in the node and in the kernel.
func abortConnection(_ channel: any Channel) {
    guard let socket = channel as? any SocketOptionProvider else { return channel.close(promise: nil) }
    socket.setSoLinger(linger(l_onoff: 1, l_linger: 0)).whenComplete { _ in channel.close(promise: nil) }
}

/// At the bottom of a pipeline whose connection is being closed: drops whatever arrives.
final class InboundDiscarder: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {}
}

/// An unmasked, final text frame as RFC 6455 lays it out: what a server sends. The hub encodes each message once
/// this way for all its recipients (NIO's encoder would allocate a header for each).
func encodedTextFrame(_ payload: [UInt8]) -> ByteBuffer {
    var buffer = ByteBuffer()
    buffer.reserveCapacity(payload.count + 10)
    buffer.writeInteger(UInt8(0x81))  // FIN, opcode 1 (text)
    switch payload.count {
    case ..<126:
        buffer.writeInteger(UInt8(payload.count))
    case ..<65536:
        buffer.writeInteger(UInt8(126))
        buffer.writeInteger(UInt16(payload.count))
    default:
        buffer.writeInteger(UInt8(127))
        buffer.writeInteger(UInt64(payload.count))
    }
    buffer.writeBytes(payload)
    return buffer
}
