import AshitaCore
import NIOCore
import NIOHTTP1

/// Bounds a request by its bytes as they arrive, before the HTTP parser holds any of them: a head that is still
/// unfinished after `limit` bytes is answered 431, and a whole request (head, body, trailers) over
/// `requestLimit` 413, and the connection closed. (Many tiny headers or trailers cost the parser far more than
/// their bytes.)
///
/// It sits before the HTTP decoder, counting from the end of one request; `RequestBoundary`, after the decoder,
/// says when a request ended. Bytes of a pipelined request that came in the same read as the previous
/// request's end are not counted: at most one read's worth.
final class RequestHeadLimiter: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer
    typealias OutboundOut = ByteBuffer

    let limit: Int
    let maxLines: Int
    let requestLimit: Int
    private var inHead = true
    private var count = 0
    private var lines = 0
    private var requestCount = 0
    /// The last bytes seen in a head, to find a blank line split across reads.
    private var tail: [UInt8] = []
    private var refused = false

    init(limit: Int, maxLines: Int, requestLimit: Int) {
        self.limit = limit
        self.maxLines = maxLines
        self.requestLimit = requestLimit
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !refused else { return }
        let buffer = unwrapInboundIn(data)
        requestCount += buffer.readableBytes
        if inHead {
            if Self.endsHead(tail + buffer.readableBytesView) {
                inHead = false
                tail = []
            } else {
                count += buffer.readableBytes
                lines += buffer.readableBytesView.count(where: { $0 == 0x0A })
                guard count <= limit else {
                    return refuse(context, 431, "Request Header Fields Too Large", "headers-too-large", "request head over \(limit) bytes")
                }
                guard lines <= maxLines else {
                    return refuse(
                        context, 431, "Request Header Fields Too Large", "headers-too-large",
                        "more than \(maxLines - 1) header fields")
                }
                tail = Array((tail + buffer.readableBytesView).suffix(3))
            }
        }
        guard requestCount <= requestLimit + Self.slack else {
            return refuse(context, 413, "Content Too Large", "body-too-large", "request over \(requestLimit) bytes")
        }
        context.fireChannelRead(data)
    }

    /// What one request may bring beyond its limits: the bytes of the next, pipelined, read with it.
    static let slack = 8192

    /// A request ended: the next bytes are a new head.
    func requestEnded() {
        inHead = true
        count = 0
        lines = 0
        requestCount = 0
        tail = []
    }

    private static func endsHead(_ bytes: [UInt8]) -> Bool {
        guard bytes.count >= 4 else { return false }
        for i in 0...(bytes.count - 4) where bytes[i] == 13 && bytes[i + 1] == 10 && bytes[i + 2] == 13 && bytes[i + 3] == 10 {
            return true
        }
        return false
    }

    private func refuse(_ context: ChannelHandlerContext, _ status: Int, _ phrase: String, _ code: String, _ message: String) {
        refused = true
        let body = #"{"error":{"code":"\#(code)","message":"\#(message)"}}"# + "\n"
        let response =
            "HTTP/1.1 \(status) \(phrase)\r\nContent-Type: application/json\r\n"
            + "Content-Length: \(body.utf8.count)\r\nConnection: close\r\n\r\n\(body)"
        let channel = context.channel
        context.writeAndFlush(wrapOutboundOut(ByteBuffer(string: response))).whenComplete { _ in
            channel.close(promise: nil)
        }
    }
}

/// After the HTTP decoder: tells the limiter where each request ends.
///
/// After a WebSocket upgrade request the node takes, what follows is not HTTP: the decoder hands on the bytes
/// that came behind the request as they are, and they pass here untouched (read as HTTP parts, they would trap).
final class RequestBoundary: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias InboundOut = HTTPServerRequestPart

    private let limiter: RequestHeadLimiter
    private var upgrading = false

    init(_ limiter: RequestHeadLimiter) { self.limiter = limiter }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !upgrading else { return context.fireChannelRead(data) }
        switch unwrapInboundIn(data) {
        case .head(let head):
            upgrading = WebSocketRequests.asksForWebSocket(head) && WebSocketRequests.refusal(head) == nil
        case .end:
            limiter.requestEnded()
        case .body:
            break
        }
        context.fireChannelRead(data)
    }
}

/// After NIO's protocol error handler, which answers a malformed request 400 with `Connection: close` but leaves
/// the connection open: closes it.
final class ParserErrorCloser: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if error is HTTPParserError { context.close(promise: nil) }
        context.fireErrorCaught(error)
    }
}
