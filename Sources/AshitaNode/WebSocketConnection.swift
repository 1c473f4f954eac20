import AshitaCore
import Logging
import NIOCore
import NIOWebSocket

/// One client's WebSocket, from upgrade to close: frames in go to the hub; frames out are written by the hub
/// straight onto the channel. When the socket closes, the hub forgets the client.
struct WebSocketConnection {
    let channel: NIOAsyncChannel<WebSocketFrame, WebSocketFrame>
    let outlet: NIOLoopBound<EncodedFrameOutlet>
    /// Its place in the connection budget: displaceable until it authenticates.
    let slot: ConnectionSlot
    let remote: String
    let hub: MeshHub
    let logger: Logger

    func run() async {
        let underlying = channel.channel
        guard let id = await hub.connect(remote: remote, client: ClientSink(channel: underlying, outlet: outlet)) else {
            try? await underlying.writeAndFlush(closeFrame(code: 1001, reason: "node is shutting down")).get()
            try? await underlying.close()
            return
        }
        let limits = hub.limits
        let authDeadline = underlying.eventLoop.scheduleTask(in: .milliseconds(Int64(limits.authTimeoutSeconds * 1000))) {
            [hub] in
            Task { await hub.authDeadlinePassed(id) }
        }
        let heartbeat = Heartbeat(channel: underlying, interval: limits.pingIntervalSeconds)
        do {
            try await channel.executeThenClose { inbound, _ in
                try await read(inbound, id: id, heartbeat: heartbeat)
            }
        } catch {
            logger.debug("connection ended", metadata: ["client": "\(id)", "error": "\(error)"])
        }
        authDeadline.cancel()
        heartbeat.stop()
        await hub.disconnect(id)
    }

    /// Returns when the client closes or breaks the protocol; whatever the hub queued in answer (an error, a
    /// close frame) is already on the event loop ahead of the socket's close.
    private func read(
        _ inbound: NIOAsyncChannelInboundStream<WebSocketFrame>, id: ClientID, heartbeat: Heartbeat
    ) async throws {
        let underlying = channel.channel
        var authenticated = false
        do {
            for try await frame in inbound {
                switch frame.opcode {
                case .text:
                    var data = frame.unmaskedData
                    let outcome = await hub.receive(id, .text(data.readBytes(length: data.readableBytes) ?? []))
                    if outcome.authenticated && !authenticated {
                        authenticated = true
                        slot.busy()
                    }
                case .binary:
                    _ = await hub.receive(id, .binary)
                case .ping:
                    // Control frames cost the sender its message rate like any frame; a flood is closed.
                    guard await hub.receive(id, .control).accepted else { continue }
                    // A pong is output like any other: a reader that does not take it is closed, not buffered
                    // for. Checked on the event loop, where writability is current.
                    let pong = WebSocketFrame(fin: true, opcode: .pong, data: frame.unmaskedData)
                    underlying.eventLoop.execute {
                        guard underlying.isActive else { return }
                        guard underlying.isWritable else { return closeGracefully(underlying, .tooSlow) }
                        underlying.writeAndFlush(pong, promise: nil)
                    }
                case .pong:
                    heartbeat.answered()
                    _ = await hub.receive(id, .control)
                case .connectionClose:
                    try? await underlying.writeAndFlush(Self.closeAnswer(to: frame.unmaskedData)).get()
                    return
                default:
                    // The validator lets no other opcode through.
                    break
                }
            }
        } catch let error as NIOWebSocketError where error == .invalidFrameLength {
            await hub.rejectOversized(id)
        } catch NIOWebSocketFrameAggregator.Error.accumulatedFrameSizeIsTooLarge {
            await hub.rejectOversized(id)
        } catch let violation as WebSocketFrameValidator.Violation {
            logger.debug("protocol error", metadata: ["client": "\(id)", "error": "\(violation.reason)"])
            await closeForProtocolError(violation.reason)
        } catch let error where error is NIOWebSocketFrameAggregator.Error || error is NIOWebSocketError {
            logger.debug("protocol error", metadata: ["client": "\(id)", "error": "\(error)"])
            await closeForProtocolError("\(error)")
        }
    }

    private func closeForProtocolError(_ reason: String) async {
        try? await channel.channel.writeAndFlush(closeFrame(code: 1002, reason: "protocol error: \(reason)")).get()
    }

    /// The answer to a client's close frame (RFC 6455, sections 5.5.1 and 7.4): its code echoed when valid;
    /// 1002 for a 1-byte payload or a code no peer may send; 1007 for a reason that is not UTF-8.
    static func closeAnswer(to payload: ByteBuffer) -> WebSocketFrame {
        var data = payload
        guard data.readableBytes > 0 else { return closeFrame(code: 1000, reason: "") }
        guard let code = data.readInteger(as: UInt16.self) else {
            return closeFrame(code: 1002, reason: "protocol error: a close payload of 1 byte")
        }
        guard WebSocketRequests.isValidCloseCode(code) else {
            return closeFrame(code: 1002, reason: "protocol error: close code \(code) is not one a peer may send")
        }
        guard String(validating: data.readableBytesView, as: UTF8.self) != nil else {
            return closeFrame(code: 1007, reason: "the close reason is not UTF-8")
        }
        return closeFrame(code: code, reason: "")
    }
}

/// The node's pings on one WebSocket: one every `interval`; when two in a row go unanswered the link is dead
/// (a peer that vanished without a FIN) and is closed, so its home is announced `nodeLeft`.
struct Heartbeat: Sendable {
    private let channel: any Channel
    private let unanswered: NIOLoopBoundBox<Int>
    private let task: RepeatedTask

    init(channel: any Channel, interval: Double) {
        let unanswered = NIOLoopBoundBox.makeBoxSendingValue(0, as: Int.self, eventLoop: channel.eventLoop)
        let every = TimeAmount.milliseconds(Int64(interval * 1000))
        self.channel = channel
        self.unanswered = unanswered
        self.task = channel.eventLoop.scheduleRepeatedTask(initialDelay: every, delay: every) { task in
            guard channel.isActive else { return task.cancel() }
            if unanswered.value >= 2 {
                task.cancel()
                closeGracefully(channel, .noPong)
                return
            }
            unanswered.value += 1
            channel.writeAndFlush(WebSocketFrame(fin: true, opcode: .ping, data: ByteBuffer(string: "ashita")), promise: nil)
        }
    }

    func answered() {
        let unanswered = self.unanswered
        channel.eventLoop.execute { unanswered.value = 0 }
    }

    func stop() { task.cancel() }
}
