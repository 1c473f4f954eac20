import NIOCore
import NIOWebSocket

/// Sits at the socket end of a WebSocket pipeline and lets the hub write frames it encoded once for many
/// clients: one shared buffer per fan-out instead of NIO's encoder allocating a header for every recipient.
/// Everything else written on the channel passes through untouched, in order.
final class EncodedFrameOutlet: ChannelOutboundHandler, RemovableChannelHandler {
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private var context: ChannelHandlerContext?

    func handlerAdded(context: ChannelHandlerContext) { self.context = context }
    func handlerRemoved(context: ChannelHandlerContext) { self.context = nil }

    /// Writes an already framed message toward the socket. On the event loop.
    func write(encoded frame: ByteBuffer) {
        context?.write(wrapOutboundOut(frame), promise: nil)
    }
}

/// An unmasked, final text frame as RFC 6455 lays it out: what a server sends.
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
