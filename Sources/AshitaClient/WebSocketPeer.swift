import AshitaCore
import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL
import NIOWebSocket

/// What arrives on a WebSocket.
public enum WebSocketMessage: Sendable, Equatable {
    case text(String)
    case binary([UInt8])
    /// The other side's close frame: its code (nil when it sent none) and reason.
    case close(code: UInt16?, reason: String)
}

public enum WebSocketClientError: Error, Equatable, CustomStringConvertible {
    case unreachable(String, reason: String)
    case notUpgraded(String)
    case timedOut(String)
    /// The other side closed the connection before answering the handshake.
    case closedDuringHandshake(String)
    /// The other side closed the connection (with this close frame, if it sent one) before a send.
    case closed(String, code: UInt16?, reason: String)

    public var description: String {
        switch self {
        case .unreachable(let target, let reason): "cannot reach \(target) (\(reason))"
        case .notUpgraded(let target): "\(target) did not accept a WebSocket (is it an ashita node?)"
        case .timedOut(let target): "\(target) did not answer the WebSocket handshake in time"
        case .closedDuringHandshake(let target): "\(target) closed the connection without answering the WebSocket handshake"
        case .closed(let target, let code, let reason):
            "\(target) closed the connection" + (code.map { " with \($0)\(reason.isEmpty ? "" : ": \(reason)")" } ?? "")
        }
    }
}

/// A client WebSocket over SwiftNIO (Debian's libcurl has no WebSocket support). Messages queue up in arrival
/// order until read with `next()`; sends are masked as RFC 6455 asks of clients.
public final class WebSocketPeer: Sendable {
    public let target: String
    private let channel: Channel
    private let inbox: Inbox<Arrival>

    /// A message and when it came off the socket (for latency measurements).
    public struct Arrival: Sendable {
        public var message: WebSocketMessage
        public var at: ContinuousClock.Instant
    }

    private init(target: String, channel: Channel, inbox: Inbox<Arrival>) {
        self.target = target
        self.channel = channel
        self.inbox = inbox
    }

    public static func connect(
        host: String, port: Int, path: String = "/", timeout: Duration = .seconds(5),
        maxFrameSize: Int = 1 << 24, group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
        tls: Bool = false, caFile: String? = nil,
        textHandler: (@Sendable (ByteBuffer) -> Bool)? = nil
    ) async throws -> WebSocketPeer {
        let hostHeader = host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
        let target = "\(tls ? "wss" : "ws")://\(hostHeader)\(path)"
        let tlsContext = try tls ? Self.clientContext(caFile: caFile, target: target) : nil
        // SNI takes names only; for an IP address the certificate is checked against the address.
        let serverName = host.allSatisfy { $0.isNumber || $0 == "." || $0 == ":" } ? nil : host
        let inbox = Inbox<Arrival>()
        enum Upgrade: Sendable { case upgraded, refused }
        let (channel, upgrade): (Channel, EventLoopFuture<Upgrade>)
        do {
            (channel, upgrade) = try await ClientBootstrap(group: group)
                .connectTimeout(TimeAmount(timeout))
                .channelOption(.tcpOption(.tcp_nodelay), value: 1)
                .connect(host: host, port: port) { channel in
                    channel.eventLoop.makeCompletedFuture {
                        if let tlsContext {
                            try channel.pipeline.syncOperations.addHandler(
                                try NIOSSLClientHandler(context: tlsContext, serverHostname: serverName))
                        }
                        var headers = HTTPHeaders()
                        headers.add(name: "Host", value: hostHeader)
                        let upgrader = NIOTypedWebSocketClientUpgrader<Upgrade>(
                            maxFrameSize: maxFrameSize,
                            upgradePipelineHandler: { channel, _ in
                                channel.eventLoop.makeCompletedFuture {
                                    try channel.pipeline.syncOperations.addHandler(
                                        NIOWebSocketFrameAggregator(
                                            minNonFinalFragmentSize: 0, maxAccumulatedFrameCount: 1 << 16,
                                            maxAccumulatedFrameSize: maxFrameSize))
                                    try channel.pipeline.syncOperations.addHandler(InboxHandler(inbox: inbox, textHandler: textHandler))
                                    return .upgraded
                                }
                            })
                        let configuration = NIOTypedHTTPClientUpgradeConfiguration<Upgrade>(
                            upgradeRequestHead: HTTPRequestHead(version: .http1_1, method: .GET, uri: path, headers: headers),
                            upgraders: [upgrader],
                            notUpgradingCompletionHandler: { channel in channel.eventLoop.makeSucceededFuture(.refused) })
                        let upgrade = try channel.pipeline.syncOperations.configureUpgradableHTTPClientPipeline(
                            configuration: .init(upgradeConfiguration: configuration))
                        return (channel, upgrade)
                    }
                }
        } catch let error as IOError {
            throw WebSocketClientError.unreachable(target, reason: error.errnoCode == ECONNREFUSED ? "connection refused" : "\(error)")
        } catch let error as ChannelError where error == .connectTimeout(.zero) || "\(error)".contains("connectTimeout") {
            throw WebSocketClientError.timedOut(target)
        } catch let error as NIOSSLError {
            throw WebSocketClientError.unreachable(target, reason: "TLS: \(error)")
        } catch let error as NIOConnectionError {
            let refused = error.connectionErrors.contains { ($0.error as? IOError)?.errnoCode == ECONNREFUSED }
            throw WebSocketClientError.unreachable(target, reason: refused ? "connection refused" : "\(error)")
        }
        let watchdogFired = NIOLockedValueBox(false)
        let watchdog = channel.eventLoop.scheduleTask(in: TimeAmount(timeout)) {
            watchdogFired.withLockedValue { $0 = true }
            channel.close(promise: nil)
        }
        // Called off on the event loop the moment the handshake ends, not when this task next runs: on a busy
        // machine the task can resume after the deadline, and the watchdog then closed an upgraded connection
        // (the caller's first send failed with "I/O on closed channel").
        upgrade.whenComplete { _ in watchdog.cancel() }
        let result: Upgrade
        do {
            result = try await upgrade.get()
        } catch {
            let active = channel.isActive
            channel.close(promise: nil)
            if active { throw WebSocketClientError.notUpgraded(target) }
            throw watchdogFired.withLockedValue { $0 }
                ? WebSocketClientError.timedOut(target) : WebSocketClientError.closedDuringHandshake(target)
        }
        guard result == .upgraded else {
            channel.close(promise: nil)
            throw WebSocketClientError.notUpgraded(target)
        }
        // However the connection ends, readers learn it. The inbox handler's channelInactive is not enough: a
        // node that closes right after its 101 (a full node) can end the connection while the upgrade is
        // still swapping handlers, before the inbox handler is there to see it.
        channel.closeFuture.whenComplete { _ in inbox.finish() }
        return WebSocketPeer(target: target, channel: channel, inbox: inbox)
    }

    private static func clientContext(caFile: String?, target: String) throws -> NIOSSLContext {
        var configuration = TLSConfiguration.makeClientConfiguration()
        configuration.minimumTLSVersion = .tlsv12
        if let caFile { configuration.trustRoots = .file(caFile) }
        do {
            return try NIOSSLContext(configuration: configuration)
        } catch {
            throw WebSocketClientError.unreachable(target, reason: "cannot use CA file \(caFile ?? "(system)"): \(error)")
        }
    }

    /// The next message in arrival order; nil once the connection is gone and everything was read.
    public func next() async -> WebSocketMessage? {
        await inbox.next()?.message
    }

    /// The next message with the moment it arrived.
    public func nextArrival() async -> Arrival? {
        await inbox.next()
    }

    public func send(_ text: String) async throws {
        try await send(WebSocketFrame(fin: true, opcode: .text, data: ByteBuffer(string: text)))
    }

    /// `send`, for the first message of a connection: when the other side has already closed it, the error says
    /// how, from the close frame it sent (a full node's 1013, a ban's 1008), reading past what else arrived.
    public func sendFirst(_ text: String) async throws {
        do {
            try await send(text)
        } catch let error as ChannelError where error == .ioOnClosedChannel || error == .alreadyClosed {
            // The inbox ends with the connection, so this reads what arrived and stops.
            while let message = await next() {
                if case .close(let code, let reason) = message { throw WebSocketClientError.closed(target, code: code, reason: reason) }
            }
            throw WebSocketClientError.closed(target, code: nil, reason: "")
        }
    }

    /// Any frame, masked here: tests use it for binary, fragmented and malformed frames.
    public func send(_ frame: WebSocketFrame) async throws {
        var masked = frame
        masked.maskKey = .random()
        try await channel.writeAndFlush(masked)
    }

    /// Sends a close frame and waits (up to `timeout`) for the node to close the connection.
    public func close(code: UInt16 = 1000, timeout: Duration = .seconds(2)) async {
        var data = ByteBuffer()
        data.writeInteger(code)
        try? await send(WebSocketFrame(fin: true, opcode: .connectionClose, data: data))
        let deadline = channel.eventLoop.scheduleTask(in: TimeAmount(timeout)) { [channel] in
            channel.close(promise: nil)
        }
        try? await channel.closeFuture.get()
        deadline.cancel()
    }

    /// Whether the TCP connection is still up.
    public var isOpen: Bool { channel.isActive }

    /// Drops the TCP connection without a close frame.
    public func abort() async {
        try? await channel.close()
    }
}

/// Turns frames into queued messages on the event loop; answers pings; echoes a close and ends.
private final class InboxHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = WebSocketFrame
    typealias OutboundOut = WebSocketFrame

    let inbox: Inbox<WebSocketPeer.Arrival>
    /// Sees each text frame first, on the event loop; returning true consumes it (for load generators).
    let textHandler: (@Sendable (ByteBuffer) -> Bool)?

    init(inbox: Inbox<WebSocketPeer.Arrival>, textHandler: (@Sendable (ByteBuffer) -> Bool)?) {
        self.inbox = inbox
        self.textHandler = textHandler
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let frame = unwrapInboundIn(data)
        var payload = frame.unmaskedData
        switch frame.opcode {
        case .text:
            if let textHandler, textHandler(payload) { return }
            inbox.push(.init(message: .text(String(decoding: payload.readableBytesView, as: UTF8.self)), at: .now))
        case .binary:
            inbox.push(.init(message: .binary(Array(payload.readableBytesView)), at: .now))
        case .ping:
            context.writeAndFlush(
                wrapOutboundOut(WebSocketFrame(fin: true, opcode: .pong, maskKey: .random(), data: payload)), promise: nil)
        case .connectionClose:
            let code = payload.readInteger(as: UInt16.self)
            let reason = payload.readString(length: payload.readableBytes) ?? ""
            inbox.push(.init(message: .close(code: code, reason: reason), at: .now))
            var echo = ByteBuffer()
            echo.writeInteger(code ?? 1000)
            let channel = context.channel
            context.writeAndFlush(
                wrapOutboundOut(WebSocketFrame(fin: true, opcode: .connectionClose, maskKey: .random(), data: echo))
            ).whenComplete { _ in channel.close(promise: nil) }
        default:
            break
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        inbox.finish()
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        inbox.finish()
        context.close(promise: nil)
    }
}
