import AshitaCore
import NIOCore
import NIOHTTP1
import NIOWebSocket

/// What makes a request a WebSocket upgrade this node accepts (RFC 6455, section 4.2.1), and the answer to
/// one it does not: never the page, never silence.
enum WebSocketRequests {
    /// Clients connect to / or /ws; other nodes open links at `/api/v1/link`.
    static let paths: Set<String> = ["/", "/ws", LinkDialer.path]

    /// Whether the request asks for a WebSocket at all (`Upgrade: websocket`).
    static func asksForWebSocket(_ head: HTTPRequestHead) -> Bool {
        head.headers[canonicalForm: "upgrade"].contains { $0.lowercased() == "websocket" }
    }

    /// nil when `head` is an upgrade the node takes; otherwise its answer. Requests that do not ask for a
    /// WebSocket get nil too: they are ordinary requests.
    static func refusal(_ head: HTTPRequestHead) -> HTTPReply? {
        guard asksForWebSocket(head) else { return nil }
        let path = Router.split(head.uri).path
        guard paths.contains(path) else {
            return .error(.notFound, .notFound, "no WebSocket at \(quoted(path)); connect to / or /ws")
        }
        guard head.method == .GET else {
            return .error(.badRequest, .badRequest, "a WebSocket upgrade must be a GET request, not \(head.method.rawValue)")
        }
        guard head.version.major == 1, head.version.minor >= 1 else {
            return .error(.badRequest, .badRequest, "a WebSocket upgrade needs HTTP/1.1")
        }
        guard head.headers[canonicalForm: "connection"].contains(where: { $0.lowercased() == "upgrade" }) else {
            return .error(.badRequest, .badRequest, "a WebSocket upgrade needs Connection: Upgrade")
        }
        guard head.headers[canonicalForm: "sec-websocket-version"] == ["13"] else {
            return .error(
                .upgradeRequired, .badRequest, "this node speaks WebSocket version 13 (Sec-WebSocket-Version: 13)",
                headers: [("Sec-WebSocket-Version", "13")])
        }
        let keys = head.headers[canonicalForm: "sec-websocket-key"]
        guard keys.count == 1, isNonce(keys[0]) else {
            return .error(.badRequest, .badRequest, "Sec-WebSocket-Key must be 16 random bytes in base64")
        }
        return nil
    }

    /// 16 bytes in base64: 22 characters of the alphabet and `==`.
    static func isNonce(_ key: Substring) -> Bool {
        let bytes = Array(key.utf8)
        guard bytes.count == 24, bytes[22] == 0x3D, bytes[23] == 0x3D else { return false }
        return bytes[..<22].allSatisfy { c in
            (0x41...0x5A).contains(c) || (0x61...0x7A).contains(c) || (0x30...0x39).contains(c) || c == 0x2B || c == 0x2F
        }
    }

    /// A close code a peer may send (RFC 6455, section 7.4): 1000–1003, 1007–1014, 3000–4999.
    static func isValidCloseCode(_ code: UInt16) -> Bool {
        switch code {
        case 1000...1003, 1007...1014, 3000...4999: true
        default: false
        }
    }
}

/// Between NIO's frame decoder and the aggregator: refuses what RFC 6455 says a server must fail the
/// connection for. Client frames must be masked; RSV bits mean an extension, and none was agreed; opcodes
/// 3–7 and 11–15 are reserved. The first violation goes up the pipeline as an error (the connection closes
/// with 1002), and nothing after it is read.
final class WebSocketFrameValidator: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = WebSocketFrame
    typealias InboundOut = WebSocketFrame

    struct Violation: Error, Equatable {
        var reason: String
    }

    private static let known: [WebSocketOpcode] = [.continuation, .text, .binary, .connectionClose, .ping, .pong]
    private var failed = false

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !failed else { return }
        let frame = unwrapInboundIn(data)
        let problem: String? =
            if frame.maskKey == nil {
                "client frames must be masked"
            } else if frame.rsv1 || frame.rsv2 || frame.rsv3 {
                "reserved bits set, but no extension was agreed"
            } else if !Self.known.contains(frame.opcode) {
                "reserved opcode \(UInt8(webSocketOpcode: frame.opcode))"
            } else {
                nil
            }
        if let problem {
            failed = true
            context.fireErrorCaught(Violation(reason: problem))
            return
        }
        context.fireChannelRead(data)
    }
}
