import AshitaCore
import Logging
import NIOCore
import NIOHTTP1

/// One HTTP/1.1 connection that did not upgrade: requests in turn (keep-alive), each answered by the router;
/// an event stream holds the connection until the client goes or the node stops.
///
/// Every wait has a deadline: the next head (`headerTimeout`), a body once its head is in (`bodyTimeout`), and
/// every write (`sendTimeout`: a reader that leaves answers unread is closed). Requests are read one at a
/// time, and answers wait in a small buffer (`httpOutboundBytes`): past it, writing waits, and so does reading
/// the next pipelined request.
struct HTTPConnection {
    let channel: NIOAsyncChannel<HTTPServerRequestPart, HTTPServerResponsePart>
    /// Its place in the connection budget: displaceable while it waits for a request.
    let slot: ConnectionSlot
    let remote: String
    let hub: MeshHub
    let router: Router
    let logger: Logger

    private var limits: NodeLimits { hub.limits }

    /// `declined` is a request whose head and end were consumed by a refused upgrade: it is answered first.
    func run(answeringFirst declined: HTTPRequestHead? = nil) async {
        do {
            try await channel.executeThenClose { inbound, outbound in
                var parts = inbound.makeAsyncIterator()
                var pending = declined
                while true {
                    let head: HTTPRequestHead
                    let bodyConsumed = pending != nil
                    if let declined = pending {
                        head = declined
                        pending = nil
                        // A WebSocket request the node does not take is answered as such, never with the page.
                        if let refusal = WebSocketRequests.refusal(head) {
                            return try await write(refusal, for: head, keepAlive: false, to: outbound)
                        }
                    } else if let next = try await nextHead(&parts) {
                        head = next
                        // Only a connection's first request can become a WebSocket.
                        if WebSocketRequests.asksForWebSocket(head) {
                            let refusal =
                                WebSocketRequests.refusal(head)
                                ?? .error(.badRequest, .badRequest, "a WebSocket upgrade must be a connection's first request")
                            return try await write(refusal, for: head, keepAlive: false, to: outbound)
                        }
                    } else {
                        return
                    }
                    if Self.headSize(head) > limits.maxHeaderBytes {
                        let reply = HTTPReply.error(
                            .requestHeaderFieldsTooLarge, .headersTooLarge, "request headers over \(limits.maxHeaderBytes) bytes")
                        return try await write(reply, for: head, keepAlive: false, to: outbound)
                    }
                    if !bodyConsumed {
                        if let refusal = try await readBody(of: head, from: &parts, answering: outbound) {
                            return try await write(refusal, for: head, keepAlive: false, to: outbound)
                        }
                    }
                    slot.busy()
                    let reply = await router.reply(to: head, remote: remote)
                    if case .eventStream(let types, let lastEventID) = reply {
                        return try await streamEvents(types: types, lastEventID: lastEventID, head: head, to: outbound)
                    }
                    // After a request the parser took for an upgrade (or CONNECT) it parses nothing more: answer, close.
                    let keepAlive = head.isKeepAlive && !bodyConsumed && !Self.stopsTheParser(head)
                    try await write(reply, for: head, keepAlive: keepAlive, to: outbound)
                    if !keepAlive { return }
                }
            }
        } catch {
            logger.debug("http connection ended", metadata: ["remote": "\(remote)", "error": "\(error)"])
        }
    }

    /// The next request's head, within the header timeout (a connection waiting for it may be displaced);
    /// nil when the connection ends.
    private func nextHead(
        _ parts: inout NIOAsyncChannelInboundStream<HTTPServerRequestPart>.AsyncIterator
    ) async throws -> HTTPRequestHead? {
        slot.idle()
        return try await deadline(limits.headerTimeout, closing: { $0.close(promise: nil) }) {
            while let part = try await parts.next() {
                if case .head(let head) = part { return head }
            }
            return nil
        }
    }

    /// Whether NIO's parser stops for good after this request (it takes it for a protocol switch).
    static func stopsTheParser(_ head: HTTPRequestHead) -> Bool {
        head.method == .CONNECT || !head.headers[canonicalForm: "upgrade"].isEmpty
            || head.headers[canonicalForm: "connection"].contains { $0.lowercased() == "upgrade" }
    }

    /// Reads (and drops: no endpoint takes one) the request's body within the body deadline and size bound;
    /// answers `Expect: 100-continue`. nil when all is well, else the refusal to send before closing.
    private func readBody(
        of head: HTTPRequestHead,
        from parts: inout NIOAsyncChannelInboundStream<HTTPServerRequestPart>.AsyncIterator,
        answering outbound: NIOAsyncChannelOutboundWriter<HTTPServerResponsePart>
    ) async throws -> HTTPReply? {
        let maxBody = limits.maxRequestBodyBytes
        let declared = head.headers.first(name: "content-length").flatMap { Int($0) }
        if let expectation = head.headers.first(name: "expect") {
            guard expectation.lowercased() == "100-continue" else {
                return .error(.expectationFailed, .badRequest, "cannot meet Expect: \(quoted(expectation))")
            }
            if let declared, declared > maxBody {
                return .error(.payloadTooLarge, .bodyTooLarge, "request body over \(maxBody) bytes")
            }
            try await deadline(limits.sendTimeout) {
                try await outbound.write(.head(HTTPResponseHead(version: head.version, status: .continue)))
            }
        }
        var bodyBytes = 0
        return try await deadline(limits.bodyTimeout) { () async throws -> HTTPReply? in
            while let next = try await parts.next() {
                switch next {
                case .body(let chunk): bodyBytes += chunk.readableBytes
                case .end: return nil
                case .head: throw HTTPParserError.invalidInternalState
                }
                if bodyBytes > maxBody {
                    return .error(.payloadTooLarge, .bodyTooLarge, "request body over \(maxBody) bytes")
                }
            }
            // The connection ended (or its deadline passed) before the body did.
            throw CancellationError()
        }
    }

    /// Runs `body`, dropping the connection (a reset, by default) if it takes longer than `seconds`: what
    /// `body` waits on then ends.
    private func deadline<T>(
        _ limit: Duration, closing: @escaping @Sendable (any Channel) -> Void = abortConnection, _ body: () async throws -> T
    ) async throws -> T {
        let underlying = channel.channel
        let timer = underlying.eventLoop.scheduleTask(in: TimeAmount(limit)) { closing(underlying) }
        defer { timer.cancel() }
        return try await body()
    }

    private func write(
        _ reply: HTTPReply, for request: HTTPRequestHead, keepAlive: Bool,
        to outbound: NIOAsyncChannelOutboundWriter<HTTPServerResponsePart>
    ) async throws {
        guard case .full(let status, let contentType, let body, let extra) = reply else { return }
        var headers = HTTPHeaders()
        if !contentType.isEmpty { headers.add(name: "Content-Type", value: contentType) }
        if status != .noContent { headers.add(name: "Content-Length", value: "\(body.count)") }
        headers.add(name: "Cache-Control", value: "no-store")
        headers.add(name: "Connection", value: keepAlive ? "keep-alive" : "close")
        for (name, value) in extra { headers.add(name: name, value: value) }
        let head = HTTPResponseHead(version: request.version, status: status, headers: headers)
        var parts: [HTTPServerResponsePart] = [.head(head)]
        if request.method != .HEAD && !body.isEmpty { parts.append(.body(.byteBuffer(ByteBuffer(bytes: body)))) }
        parts.append(.end(nil))
        try await deadline(limits.sendTimeout) { try await outbound.write(contentsOf: parts) }
    }

    /// `text/event-stream`: the backlog after `Last-Event-ID`, then live entries, a comment heartbeat in between.
    private func streamEvents(
        types: Set<String>?, lastEventID: String?, head request: HTTPRequestHead,
        to outbound: NIOAsyncChannelOutboundWriter<HTTPServerResponsePart>
    ) async throws {
        let subscription: EventStreams.Subscription
        switch await hub.subscribe(types: types, lastEventID: lastEventID, remote: remote) {
        case .accepted(let accepted):
            subscription = accepted
        case .refused(.shuttingDown):
            try await write(.error(.serviceUnavailable, .notFound, "node is shutting down"), for: request, keepAlive: false, to: outbound)
            return
        case .refused(.full):
            let limit = hub.limits.maxEventStreams
            try await write(
                .error(.serviceUnavailable, .busy, "the node already serves \(limit) event streams; try again later"),
                for: request, keepAlive: false, to: outbound)
            return
        case .refused(.fullForAddress):
            let limit = hub.limits.maxEventStreamsPerIP
            try await write(
                .error(.tooManyRequests, .busy, "\(remote) already has \(limit) event streams open here; close one"),
                for: request, keepAlive: false, to: outbound)
            return
        }
        do {
            try await stream(subscription, lastEventID: lastEventID, head: request, to: outbound)
        } catch {
            await hub.unsubscribe(subscription.id)
            throw error
        }
        await hub.unsubscribe(subscription.id)
    }

    private func stream(
        _ subscription: EventStreams.Subscription,
        lastEventID: String?, head request: HTTPRequestHead,
        to outbound: NIOAsyncChannelOutboundWriter<HTTPServerResponsePart>
    ) async throws {
        var headers = HTTPHeaders()
        headers.add(name: "Content-Type", value: "text/event-stream")
        headers.add(name: "Cache-Control", value: "no-store")
        headers.add(name: "Connection", value: "close")
        headers.add(name: "X-Accel-Buffering", value: "no")
        // A new subscriber learns where it starts (an id with no data), so a reconnect misses nothing.
        let start = lastEventID == nil ? "id: \(subscription.position)\n" : ""
        var preamble = "retry: 1000\n\(start): ashita \(await hub.identity.nodeIp) events\n\n"
        if subscription.missed {
            preamble += ": some events since Last-Event-ID \(lastEventID ?? "") are no longer held\n\n"
        }
        let sendTimeout = limits.sendTimeout
        try await deadline(sendTimeout) {
            try await outbound.write(contentsOf: [
                .head(HTTPResponseHead(version: request.version, status: .ok, headers: headers)),
                .body(.byteBuffer(ByteBuffer(string: preamble))),
            ])
        }
        for entry in subscription.backlog {
            try await deadline(sendTimeout) { try await outbound.write(.body(.byteBuffer(Self.encode(entry)))) }
        }
        let heartbeat = hub.limits.eventStreamHeartbeat
        // A reader that leaves the stream unread for `sendTimeout` is closed, whichever write finds it out.
        let underlying = channel.channel
        @Sendable func send(_ buffer: ByteBuffer) async throws {
            let timer = underlying.eventLoop.scheduleTask(in: TimeAmount(sendTimeout)) { abortConnection(underlying) }
            defer { timer.cancel() }
            try await outbound.write(.body(.byteBuffer(buffer)))
        }
        // A future cannot be cancelled; a stream can, so the group below can always end.
        let (closed, closedContinuation) = AsyncStream.makeStream(of: Void.self)
        channel.channel.closeFuture.whenComplete { _ in closedContinuation.finish() }
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                for await encoded in subscription.live {
                    try await send(encoded)
                }
            }
            group.addTask {
                while true {
                    try await Task.sleep(for: heartbeat)
                    try await send(ByteBuffer(string: ": heartbeat\n\n"))
                }
            }
            group.addTask { for await _ in closed {} }
            try await group.next()
            group.cancelAll()
        }
        // The stream ended: the node stops, or the subscriber fell behind its buffer and was dropped. Either
        // way the connection closes after this (it said `Connection: close`), read or not.
        try? await deadline(.seconds(1)) { try await outbound.write(.end(nil)) }
    }

    /// The request line and headers as sent, near enough: what a header cap has to bound.
    static func headSize(_ head: HTTPRequestHead) -> Int {
        head.headers.reduce(head.uri.utf8.count + 16) { $0 + $1.name.utf8.count + $1.value.utf8.count + 4 }
    }

    static func encode(_ entry: JournalEntry) -> ByteBuffer {
        var buffer = ByteBuffer()
        buffer.writeString("id: \(entry.id)\nevent: \(entry.type)\ndata: ")
        buffer.writeBytes(entry.encoded())
        buffer.writeString("\n\n")
        return buffer
    }
}
