import AshitaCore
import Logging
import NIOCore
import NIOWebSocket

/// One client's WebSocket, from upgrade to close, as a channel handler at the tail of its pipeline: frames in go
/// to the hub on the hub's event loop; everything out goes through the connection's one writer,
/// `WebSocketOutbound`. No task waits on an idle socket: the connection is its pipeline and nothing else.
///
/// Frames reach the hub in the order they arrived. While `maxFramesInFlight` of them wait for the hub, the socket
/// is not read: a client that sends faster than the hub answers is held back in its own TCP window, not in the
/// node's memory.
final class WebSocketSession: ChannelDuplexHandler, RemovableChannelHandler, DeadlineTarget {
    typealias InboundIn = WebSocketFrame
    typealias OutboundIn = WebSocketFrame

    /// Frames handed to the hub and not yet answered, at most, before the socket is no longer read.
    static let maxFramesInFlight = 16

    /// What the session needs from the node, known only once the node runs: given by `attach`.
    struct Node {
        let hub: MeshHub
        let remote: String
        let logger: Logger
    }

    private let outbound: WebSocketOutbound
    private let slot: ConnectionSlot
    private var context: ChannelHandlerContext?
    private var node: Node?
    private var id: ClientID = 0
    /// Frames that arrived before `attach`, in order (reads are held meanwhile, so at most one read's worth).
    private var early: [WebSocketFrame] = []
    private var inFlight = 0
    private var readHeld = false
    private var authenticated = false
    /// The node is closing the connection, or the client closed it: what it still sends is dropped.
    private var closing = false
    private var ending = Ending.lost
    private let deadlines: LoopDeadlines
    private var authDeadline: LoopDeadlines.Token?
    private var ended = false

    private enum Ending {
        /// The client sent a close frame: it left, unless its close broke the rules (then the node's answer).
        case clientClosed(refusal: CloseReason?)
        /// The connection ended otherwise (the node closed it, the client vanished).
        case lost
    }

    /// `deadlines`: those of the channel's event loop, where the auth deadline is timed.
    init(outbound: WebSocketOutbound, slot: ConnectionSlot, deadlines: LoopDeadlines) {
        self.outbound = outbound
        self.slot = slot
        self.deadlines = deadlines
    }

    func handlerAdded(context: ChannelHandlerContext) { self.context = context }

    func handlerRemoved(context: ChannelHandlerContext) {
        cancelAuthDeadline()
        self.context = nil
    }

    // MARK: Joining the hub

    /// The node takes the connection: it is registered with the hub, its auth deadline and heartbeat start, and
    /// the frames that came before are handed on. On the channel's event loop.
    func attach(_ node: Node) {
        guard let context, self.node == nil else { return }
        self.node = node
        let hub = node.hub
        id = hub.clientIDs.next()
        let id = self.id
        let session = NIOLoopBound(self, eventLoop: context.eventLoop)
        let client = ClientSink(outbound: NIOLoopBound(outbound, eventLoop: context.eventLoop))
        let remote = node.remote
        inFlight += 1
        hub.enqueue { hub in
            let accepted = hub.connect(id, remote: remote, client: client)
            Self.answer(session) { $0.connected(accepted) }
        }
        guard context.channel.isActive else { return end() }
        authDeadline = deadlines.schedule(in: TimeAmount(hub.limits.authTimeout), self)
        outbound.startHeartbeat(every: TimeAmount(hub.limits.pingInterval))
        let waiting = early
        early = []
        for frame in waiting { handle(frame) }
        releaseReads()
    }

    /// `--auth-timeout` after `attach`: the hub closes the client unless it has sent `auth`.
    func deadlinePassed() {
        authDeadline = nil
        guard let hub = node?.hub else { return }
        let id = self.id
        hub.enqueue { $0.authDeadlinePassed(id) }
    }

    private func cancelAuthDeadline() {
        guard let authDeadline else { return }
        deadlines.cancel(authDeadline)
        self.authDeadline = nil
    }

    private func connected(_ accepted: Bool) {
        settled()
        guard !accepted, let context else { return }
        // Refused (the node is shutting down): nothing it sent matters.
        closing = true
        let channel = context.channel
        outbound.writeCloseFrame(.goingAway).whenComplete { _ in channel.close(promise: nil) }
    }

    // MARK: Frames in

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let frame = unwrapInboundIn(data)
        guard node != nil else {
            early.append(frame)
            return
        }
        handle(frame)
    }

    private func handle(_ frame: WebSocketFrame) {
        guard let context, node != nil, !closing else { return }
        let id = self.id
        let session = NIOLoopBound(self, eventLoop: context.eventLoop)
        switch frame.opcode {
        case .text:
            var data = frame.unmaskedData
            let text = data.readBytes(length: data.readableBytes) ?? []
            post { hub in
                let outcome = hub.receive(id, .text(text))
                Self.answer(session) { $0.settled(outcome) }
            }
        case .binary:
            post { hub in
                let outcome = hub.receive(id, .binary)
                Self.answer(session) { $0.settled(outcome) }
            }
        case .ping:
            // Control frames cost the sender its message rate like any frame; a flood is closed.
            let payload = frame.unmaskedData
            post { hub in
                let outcome = hub.receive(id, .control)
                Self.answer(session) { session in
                    session.settled(outcome)
                    if outcome.accepted && !session.closing { session.outbound.pong(payload) }
                }
            }
        case .pong:
            outbound.pongReceived()
            post { hub in
                let outcome = hub.receive(id, .control)
                Self.answer(session) { $0.settled(outcome) }
            }
        case .connectionClose:
            let (answer, refused) = Self.closeAnswer(to: frame.unmaskedData)
            ending = .clientClosed(refusal: refused ? answer : nil)
            closing = true
            let channel = context.channel
            outbound.writeCloseFrame(answer).whenComplete { _ in channel.close(promise: nil) }
        default:
            // The validator lets no other opcode through.
            break
        }
    }

    /// Hands work to the hub, counted until it answers.
    private func post(_ work: @escaping @Sendable (isolated MeshHub) -> Void) {
        guard let hub = node?.hub else { return }
        inFlight += 1
        hub.enqueue(work)
    }

    /// Runs `body` on the session's event loop: at once when the hub shares it, else with one hop.
    private static func answer(_ session: NIOLoopBound<WebSocketSession>, _ body: @escaping @Sendable (WebSocketSession) -> Void) {
        if session.eventLoop.inEventLoop {
            body(session.value)
        } else {
            session.eventLoop.execute { body(session.value) }
        }
    }

    private func settled(_ outcome: MeshHub.FrameOutcome) {
        settled()
        if outcome.authenticated && !authenticated {
            authenticated = true
            slot.busy()
        }
        if outcome.closing { closing = true }
    }

    private func settled() {
        inFlight -= 1
        releaseReads()
    }

    // MARK: Reading, held while the hub is behind

    func read(context: ChannelHandlerContext) {
        // Once closing, reading goes on whatever the hub does: the client's answer or hang-up must be seen.
        if closing || (node != nil && inFlight < Self.maxFramesInFlight) {
            context.read()
        } else {
            readHeld = true
        }
    }

    private func releaseReads() {
        guard readHeld, let context, closing || (node != nil && inFlight < Self.maxFramesInFlight) else { return }
        readHeld = false
        context.read()
    }

    // MARK: Errors and the end

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        let logger = node?.logger
        // Being closed already (an oversized frame, a protocol error, the node's close): what the decoders still
        // make of the rest of the input changes nothing; the close under way ends the connection.
        guard !closing else {
            logger?.debug("after the close", metadata: ["client": "\(id)", "error": "\(error)"])
            return
        }
        switch error {
        case let error as NIOWebSocketError where error == .invalidFrameLength:
            rejectOversized()
        case NIOWebSocketFrameAggregator.Error.accumulatedFrameSizeIsTooLarge:
            rejectOversized()
        case let violation as WebSocketFrameValidator.Violation:
            logger?.debug("protocol error", metadata: ["client": "\(id)", "error": "\(violation.reason)"])
            closeForProtocolError(violation.reason)
        case let error where error is NIOWebSocketFrameAggregator.Error || error is NIOWebSocketError:
            logger?.debug("protocol error", metadata: ["client": "\(id)", "error": "\(error)"])
            closeForProtocolError("\(error)")
        default:
            logger?.debug("connection ended", metadata: ["client": "\(id)", "error": "\(error)"])
            context.close(promise: nil)
        }
    }

    /// A frame over the size limit: the rules answer (an `error`, then 1009); the decoder reads no further, so
    /// the connection closes whatever the rules say.
    private func rejectOversized() {
        guard let context, !closing else { return }
        closing = true
        let id = self.id
        let session = NIOLoopBound(self, eventLoop: context.eventLoop)
        guard node != nil else { return context.close(promise: nil) }
        post { hub in
            hub.rejectOversized(id)
            Self.answer(session) { session in
                session.settled()
                if session.outbound.closeSent == nil { session.outbound.close(.tooBig) }
            }
        }
    }

    private func closeForProtocolError(_ reason: String) {
        guard let context else { return }
        closing = true
        let channel = context.channel
        outbound.writeCloseFrame(CloseReason(code: 1002, reason: "protocol error: \(reason)")).whenComplete { _ in
            channel.close(promise: nil)
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        end()
        context.fireChannelInactive()
    }

    /// The node is stopping (its quiescing helper tells every connection): closed with 1001 like every client
    /// the hub closes at shutdown — and so is a connection accepted too late to be attached, which no one else
    /// would close, and for which the node's run would wait.
    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if event is ChannelShouldQuiesceEvent {
            closing = true
            outbound.close(.goingAway)
            return
        }
        context.fireUserInboundEventTriggered(event)
    }

    /// The socket closed: the hub forgets the client. Why it ended, when the node ended it: a close the node sent
    /// (the hub's, a slow reader's, a dead link's), or the answer to a client's close that broke the rules. A
    /// client's own close is no reason of the node's.
    private func end() {
        guard !ended, let hub = node?.hub else { return }
        ended = true
        cancelAuthDeadline()
        let reason: CloseReason? =
            switch ending {
            case .lost: outbound.closeSent
            case .clientClosed(let refusal): refusal
            }
        let id = self.id
        hub.enqueue { $0.disconnect(id, closedWith: reason) }
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
