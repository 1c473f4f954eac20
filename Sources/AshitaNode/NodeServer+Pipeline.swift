import AshitaCore
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL
import NIOWebSocket

extension NodeServer {
    /// Bytes read at a time from an HTTP connection (about a hundred pipelined requests at most) or a WebSocket
    /// (about seven hundred empty frames at most): what one read can make the node hold before backpressure.
    static let httpReadBytes = 4096

    /// Header fields (or trailer fields) in one request: browsers send about twenty.
    static let maxHeaderFields = 100

    static func configurePipeline(
        _ channel: Channel, limits: NodeLimits, tls: NIOSSLContext?, budget: ConnectionBudget, deadlines: LoopDeadlinesTable
    ) throws -> EventLoopFuture<Connection> {
        let remote = Self.remoteIP(channel)
        guard case .admitted(let slot) = budget.admit(IPAddress.limitKey(remote), channel: channel) else {
            // Over the per-IP limit, or full of busy connections: no answer at all, the cheapest refusal.
            try channel.pipeline.syncOperations.addHandler(RefuseOnActive())
            return channel.eventLoop.makeSucceededFuture(.refused)
        }
        channel.closeFuture.whenComplete { _ in slot.release() }
        let operations = channel.pipeline.syncOperations
        if let tls {
            try operations.addHandler(NIOSSLServerHandler(context: tls))
        }
        // A head is bounded by its bytes as they arrive, before the parser keeps any of them.
        let headLimiter = RequestHeadLimiter(
            limit: limits.maxHeaderBytes, maxLines: Self.maxHeaderFields + 1,
            requestLimit: limits.maxHeaderBytes + limits.maxRequestBodyBytes)
        try operations.addHandler(headLimiter)
        // Slowloris: the first request head must be complete within the header timeout.
        let headTimer = channel.eventLoop.scheduleTask(in: TimeAmount(limits.headerTimeout)) {
            channel.close(promise: nil)
        }
        let declined = NIOLoopBoundBox<HTTPRequestHead?>(nil, eventLoop: channel.eventLoop)
        let upgrader = NIOTypedWebSocketServerUpgrader<Connection>(
            maxFrameSize: limits.maxFrameBytes,
            // Errors come to the connection, which answers with an `error` event or a close code.
            enableAutomaticErrorHandling: false,
            shouldUpgrade: { channel, head in
                // Anything short of a well-formed upgrade is declined; the HTTP side answers it.
                channel.eventLoop.makeSucceededFuture(WebSocketRequests.refusal(head) == nil ? HTTPHeaders() : nil)
            },
            upgradePipelineHandler: { channel, head in
                channel.eventLoop.makeCompletedFuture {
                    headTimer.cancel()
                    _ = UpgradeRequestRecorder.take(declined, from: channel)
                    let operations = channel.pipeline.syncOperations
                    // HTTP's bounds end here: what follows are frames, bounded by the frame size.
                    if let limiter = try? operations.handler(type: RequestHeadLimiter.self) {
                        operations.removeHandler(limiter, promise: nil)
                    }
                    if let boundary = try? operations.handler(type: RequestBoundary.self) {
                        operations.removeHandler(boundary, promise: nil)
                    }
                    if let closer = try? operations.handler(type: ParserErrorCloser.self) {
                        operations.removeHandler(closer, promise: nil)
                    }
                    try channel.syncOptions?.setOption(
                        .writeBufferWaterMark,
                        value: .init(low: limits.outboundBufferBytes / 2, high: limits.outboundBufferBytes))
                    try operations.addHandler(WebSocketFrameValidator())
                    try operations.addHandler(
                        NIOWebSocketFrameAggregator(
                            minNonFinalFragmentSize: 1, maxAccumulatedFrameCount: 256,
                            maxAccumulatedFrameSize: limits.maxFrameBytes))
                    if Router.split(head.uri).path == LinkDialer.path {
                        let session = LinkSession(dialled: nil, deadlines: deadlines.on(channel.eventLoop))
                        try operations.addHandler(session)
                        return .link(NIOLoopBound(session, eventLoop: channel.eventLoop), remote: Self.remoteIP(channel))
                    }
                    let timers = deadlines.on(channel.eventLoop)
                    let outbound = WebSocketOutbound(eventLoop: channel.eventLoop, deadlines: timers)
                    // Pre-encoded frames go in at the head of the pipeline, but under TLS after the TLS handler.
                    if let tls = try? operations.handler(type: NIOSSLServerHandler.self) {
                        try operations.addHandler(outbound, position: .after(tls))
                    } else {
                        try operations.addHandler(outbound, position: .first)
                    }
                    let session = WebSocketSession(outbound: outbound, slot: slot, deadlines: timers)
                    try operations.addHandler(session)
                    return .webSocket(NIOLoopBound(session, eventLoop: channel.eventLoop), remote: Self.remoteIP(channel))
                }
            })
        let configuration = NIOTypedHTTPServerUpgradeConfiguration<Connection>(
            upgraders: [upgrader],
            notUpgradingCompletionHandler: { channel in
                channel.eventLoop.makeCompletedFuture {
                    headTimer.cancel()
                    let head = UpgradeRequestRecorder.take(declined, from: channel)
                    // Answers queue up to a small bound, in the node and in the kernel (a fixed send buffer: left to
                    // autotuning it grows to megabytes for a reader that never reads); past it the connection's
                    // requests are not read, and after the send timeout it is dropped.
                    try channel.syncOptions?.setOption(
                        .writeBufferWaterMark,
                        value: .init(low: limits.httpOutboundBytes / 2, high: limits.httpOutboundBytes))
                    if limits.socketSendBufferBytes == nil {
                        try channel.syncOptions?.setOption(.socketOption(.so_sndbuf), value: SocketOptionValue(limits.httpOutboundBytes))
                    }
                    return .http(try NIOAsyncChannel(wrappingChannelSynchronously: channel), declined: head, slot: slot)
                }
            })
        var pipeline = NIOUpgradableHTTPServerPipelineConfiguration(upgradeConfiguration: configuration)
        // The parser's own limits, a backstop for trailers (heads meet the limiter's first, and get 431).
        pipeline.decoderConfiguration.maxHeaderFieldSize = 2 * limits.maxHeaderBytes
        pipeline.decoderConfiguration.maxHeaderListSize = 2 * limits.maxHeaderBytes
        pipeline.decoderConfiguration.maxHeaderFieldCount = 2 * Self.maxHeaderFields
        let connection = try operations.configureUpgradableHTTPServerPipeline(configuration: pipeline)
        let decoder = try operations.handler(type: ByteToMessageHandler<HTTPRequestDecoder>.self)
        try operations.addHandler(RequestBoundary(headLimiter), position: .after(decoder))
        let errorHandler = try operations.handler(type: HTTPServerProtocolErrorHandler.self)
        try operations.addHandler(ParserErrorCloser(), position: .after(errorHandler))
        let upgradeHandler = try operations.handler(type: NIOTypedHTTPServerUpgradeHandler<Connection>.self)
        try operations.addHandler(UpgradeRequestRecorder(into: declined), position: .before(upgradeHandler))
        // An upgrade that fails outright leaves nobody to answer: say why (400 or 426) and close.
        connection.whenFailure { _ in
            headTimer.cancel()
            let refusal =
                declined.value.flatMap(WebSocketRequests.refusal)
                ?? .error(.badRequest, .badRequest, "malformed WebSocket upgrade request")
            guard case .full(let status, let contentType, let body, let extra) = refusal else { return }
            var headers = HTTPHeaders()
            headers.add(name: "Content-Type", value: contentType)
            headers.add(name: "Content-Length", value: "\(body.count)")
            headers.add(name: "Connection", value: "close")
            for (name, value) in extra { headers.add(name: name, value: value) }
            channel.write(HTTPServerResponsePart.head(HTTPResponseHead(version: .http1_1, status: status, headers: headers)), promise: nil)
            channel.write(HTTPServerResponsePart.body(.byteBuffer(ByteBuffer(bytes: body))), promise: nil)
            channel.writeAndFlush(HTTPServerResponsePart.end(nil)).whenComplete { _ in channel.close(promise: nil) }
        }
        return connection
    }
}
