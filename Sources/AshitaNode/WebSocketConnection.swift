import AshitaCore
import Logging
import NIOCore
import NIOWebSocket

/// One client's WebSocket, from upgrade to close: frames in go to the hub; everything out goes through the
/// connection's one writer, `WebSocketOutbound`. When the socket closes, the hub forgets the client.
struct WebSocketConnection {
    let channel: NIOAsyncChannel<WebSocketFrame, WebSocketFrame>
    /// The connection's one writer, on its event loop.
    let outbound: NIOLoopBound<WebSocketOutbound>
    /// Its place in the connection budget: displaceable until it authenticates.
    let slot: ConnectionSlot
    let remote: String
    let hub: MeshHub
    let logger: Logger

    func run() async {
        let underlying = channel.channel
        guard let id = await hub.connect(remote: remote, client: ClientSink(outbound: outbound)) else {
            try? await sendCloseFrame(.goingAway)
            try? await underlying.close()
            return
        }
        let limits = hub.limits
        let authDeadline = underlying.eventLoop.scheduleTask(in: TimeAmount(limits.authTimeout)) {
            [hub] in
            Task { await hub.authDeadlinePassed(id) }
        }
        let outbound = self.outbound
        let pingInterval = TimeAmount(limits.pingInterval)
        underlying.eventLoop.execute { outbound.value.startHeartbeat(every: pingInterval) }
        var ending = Ending.lost
        do {
            try await channel.executeThenClose { inbound, _ in
                ending = try await read(inbound, id: id)
            }
        } catch {
            logger.debug("connection ended", metadata: ["client": "\(id)", "error": "\(error)"])
        }
        authDeadline.cancel()
        // Why it ended, when the node ended it: a close the node sent (the hub's, a slow reader's, a dead link's),
        // or the answer to a client's close that broke the rules. A client's own close is no reason of the node's.
        let sent = try? await underlying.eventLoop.submit { outbound.value.closeSent }.get()
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
    private func read(_ inbound: NIOAsyncChannelInboundStream<WebSocketFrame>, id: ClientID) async throws -> Ending {
        let underlying = channel.channel
        let outbound = self.outbound
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
                    let payload = frame.unmaskedData
                    underlying.eventLoop.execute { outbound.value.pong(payload) }
                case .pong:
                    underlying.eventLoop.execute { outbound.value.pongReceived() }
                    outcome = await hub.receive(id, .control)
                case .connectionClose:
                    let (answer, refused) = Self.closeAnswer(to: frame.unmaskedData)
                    try? await sendCloseFrame(answer)
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
        try? await sendCloseFrame(CloseReason(code: 1002, reason: "protocol error: \(reason)"))
    }

    /// A close frame, written before the socket closes (the connection closes it once this returns).
    private func sendCloseFrame(_ reason: CloseReason) async throws {
        let outbound = self.outbound
        try await channel.channel.eventLoop.flatSubmit { outbound.value.writeCloseFrame(reason) }.get()
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
