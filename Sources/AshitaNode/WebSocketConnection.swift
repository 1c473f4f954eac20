import AshitaCore
import Logging
import NIOCore
import NIOWebSocket

/// One client's WebSocket, from upgrade to close: frames in go to the hub; frames out are written by the hub
/// straight onto the channel. When the socket closes, the hub forgets the client.
struct WebSocketConnection {
    let channel: NIOAsyncChannel<WebSocketFrame, WebSocketFrame>
    let outlet: NIOLoopBound<EncodedFrameOutlet>
    /// What close frame the node sent, if any: why the node ended the connection, for the journal.
    let closes: NIOLoopBound<CloseRecorder>
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
        let authDeadline = underlying.eventLoop.scheduleTask(in: TimeAmount(limits.authTimeout)) {
            [hub] in
            Task { await hub.authDeadlinePassed(id) }
        }
        let heartbeat = Heartbeat(channel: underlying, interval: limits.pingInterval)
        var ending = Ending.lost
        do {
            try await channel.executeThenClose { inbound, _ in
                ending = try await read(inbound, id: id, heartbeat: heartbeat)
            }
        } catch {
            logger.debug("connection ended", metadata: ["client": "\(id)", "error": "\(error)"])
        }
        authDeadline.cancel()
        heartbeat.stop()
        // Why it ended, when the node ended it: a close the node sent (the hub's, a slow reader's, a dead link's),
        // or the answer to a client's close that broke the rules. A client's own close is no reason of the node's.
        let closes = self.closes
        let sent = try? await underlying.eventLoop.submit { closes.value.sent }.get()
        let reason: CloseReason? =
            switch ending {
            case .lost: sent
            case .clientClosed(let refusal): refusal
            }
        await hub.disconnect(id, closedWith: reason)
    }

    private enum Ending {
        /// The client sent a close frame: it left, unless its close broke the rules (then the node's answer).
        case clientClosed(refusal: CloseReason?)
        /// The connection ended otherwise (the node closed it, the client vanished).
        case lost
    }

    /// Returns when the client closes or breaks the protocol; whatever the hub queued in answer (an error, a
    /// close frame) is already on the event loop ahead of the socket's close.
    private func read(
        _ inbound: NIOAsyncChannelInboundStream<WebSocketFrame>, id: ClientID, heartbeat: Heartbeat
    ) async throws -> Ending {
        let underlying = channel.channel
        var authenticated = false
        var closing = false
        do {
            for try await frame in inbound {
                // Being closed: what is still on its way is dropped (the discarder below stops the rest); the
                // loop goes on until the connection ends, so reading goes on and the close completes.
                if closing { continue }
                let outcome: MeshHub.FrameOutcome
                switch frame.opcode {
                case .text:
                    var data = frame.unmaskedData
                    outcome = await hub.receive(id, .text(data.readBytes(length: data.readableBytes) ?? []))
                    if outcome.authenticated && !authenticated {
                        authenticated = true
                        slot.busy()
                    }
                case .binary:
                    outcome = await hub.receive(id, .binary)
                case .ping:
                    // Control frames cost the sender its message rate like any frame; a flood is closed.
                    outcome = await hub.receive(id, .control)
                    guard outcome.accepted else { break }
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
                    outcome = await hub.receive(id, .control)
                case .connectionClose:
                    let (answer, refused) = Self.closeAnswer(to: frame.unmaskedData)
                    try? await underlying.writeAndFlush(closeFrame(code: answer.code, reason: answer.reason)).get()
                    return .clientClosed(refusal: refused ? answer : nil)
                default:
                    // The validator lets no other opcode through.
                    continue
                }
                if outcome.closing { closing = true }
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
        return .lost
    }

    private func closeForProtocolError(_ reason: String) async {
        try? await channel.channel.writeAndFlush(closeFrame(code: 1002, reason: "protocol error: \(reason)")).get()
    }

    /// The answer to a client's close frame (RFC 6455, sections 5.5.1 and 7.4): its code echoed when valid;
    /// 1002 for a 1-byte payload or a code no peer may send; 1007 for a reason that is not UTF-8.
    /// `refused`: the close broke the rules, and the answer says how.
    static func closeAnswer(to payload: ByteBuffer) -> (answer: CloseReason, refused: Bool) {
        var data = payload
        guard data.readableBytes > 0 else { return (CloseReason(code: 1000, reason: ""), false) }
        guard let code = data.readInteger(as: UInt16.self) else {
            return (CloseReason(code: 1002, reason: "protocol error: a close payload of 1 byte"), true)
        }
        guard WebSocketRequests.isValidCloseCode(code) else {
            return (CloseReason(code: 1002, reason: "protocol error: close code \(code) is not one a peer may send"), true)
        }
        guard String(validating: data.readableBytesView, as: UTF8.self) != nil else {
            return (CloseReason(code: 1007, reason: "the close reason is not UTF-8"), true)
        }
        return (CloseReason(code: code, reason: ""), false)
    }
}

/// The node's pings on one WebSocket: one every `interval`; when two in a row go unanswered the link is dead
/// (a peer that vanished without a FIN) and is closed, so its home is announced `nodeLeft`.
struct Heartbeat: Sendable {
    private let channel: any Channel
    private let unanswered: NIOLoopBoundBox<Int>
    private let task: RepeatedTask

    init(channel: any Channel, interval: Duration) {
        let unanswered = NIOLoopBoundBox.makeBoxSendingValue(0, as: Int.self, eventLoop: channel.eventLoop)
        let every = TimeAmount(interval)
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
