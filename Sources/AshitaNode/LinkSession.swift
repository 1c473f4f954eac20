import AshitaCore
import NIOCore
import NIOWebSocket

#if canImport(Glibc)
import Glibc
#endif

/// One link to another node, at the tail of its WebSocket pipeline, at either end: the greeting first (both ends
/// prove their keys within `greetingTimeout`), then link messages to and from the `LinkHub`. It is the link's one
/// writer. While `maxMessagesInFlight` messages wait for the hub, the socket is not read.
///
/// Once the link is up it watches the transport: the dialling end sends a heartbeat (an unsolicited pong, which
/// RFC 6455 allows and the other end ignores) when it wrote nothing for half a probe timeout, so there is always
/// recent data for the other end's kernel to acknowledge, and the other end hears it; the accepting end sends one
/// only when it also heard nothing for three quarters of a probe timeout. Once nothing came on the link for a
/// probe timeout, TCP is asked whether it has resent data still unacknowledged. It has, when the other host is
/// gone or the path cut; a process that is merely slow does not cause it, since its kernel acknowledges for it.
final class LinkSession: ChannelInboundHandler, RemovableChannelHandler, DeadlineTarget {
    typealias InboundIn = WebSocketFrame
    typealias OutboundOut = WebSocketFrame

    static let maxMessagesInFlight = 16
    static let greetingTimeout = TimeAmount.seconds(5)

    private var handshake: LinkHandshake?
    private let dialled: NodeAddress?
    private var context: ChannelHandlerContext?
    private var hub: LinkHub?
    private var link: LinkID = 0
    private var early: [WebSocketFrame] = []
    private var established = false
    private var closeReceived = false
    private var closing = false
    /// The connection failed under the link (a reset, say: what a killed node's socket often sends).
    private var broken = false
    private var inFlight = 0
    private var readHeld = false
    private var greetingDeadline: Scheduled<Void>?
    private var ended = false
    /// The event loop's deadlines, where the transport watch is timed: one NIO timer for all the loop's links.
    private let deadlines: LoopDeadlines
    private var watch: LoopDeadlines.Token?
    /// When `watch` comes (on the grid), and a closer look at TCP asked for before it.
    private var watchDue: NIODeadline?
    private var closeLook: LoopDeadlines.Token?
    private var probeTimeout = TimeAmount.milliseconds(500)
    private var tick: TimeAmount { .nanoseconds(max(1_000_000, probeTimeout.nanoseconds / 4)) }
    private var lastWrite = NIODeadline.now()
    private var lastRead = NIODeadline.now()

    /// `dialled`: the address this end dialled (nil at the accepting end). `deadlines`: those of the channel's
    /// event loop.
    init(dialled: NodeAddress?, deadlines: LoopDeadlines) {
        self.dialled = dialled
        self.deadlines = deadlines
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        let session = NIOLoopBound(self, eventLoop: context.eventLoop)
        greetingDeadline = context.eventLoop.scheduleTask(in: Self.greetingTimeout) {
            guard !session.value.established else { return }
            session.value.close(code: 1008, reason: "no greeting in time")
        }
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        greetingDeadline?.cancel()
        stopWatch()
        self.context = nil
    }

    /// The hub takes the link: its greeting starts (the dialler speaks first). On the channel's event loop.
    func attach(_ hub: LinkHub, link: LinkID, handshake: LinkHandshake) {
        guard context != nil, self.hub == nil else { return }
        self.hub = hub
        self.link = link
        self.handshake = handshake
        if let opening = handshake.opening { write(opening.encoded()) }
        guard context?.channel.isActive == true else { return end() }
        let waiting = early
        early = []
        for frame in waiting { handle(frame) }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let frame = unwrapInboundIn(data)
        lastRead = .now()
        guard hub != nil else {
            if early.count < 4 { early.append(frame) } else { close(code: 1008, reason: "too much before the greeting") }
            return
        }
        handle(frame)
    }

    private func handle(_ frame: WebSocketFrame) {
        guard !closing, let hub else { return }
        switch frame.opcode {
        case .text:
            let bytes = Array(frame.unmaskedData.readableBytesView)
            guard established else { return greet(bytes) }
            inFlight += 1
            let link = self.link
            let session = NIOLoopBound(self, eventLoop: context!.eventLoop)
            hub.enqueue { hub in
                hub.receive(bytes, on: link)
                session.eventLoop.execute { session.value.settled() }
            }
        case .connectionClose:
            closeReceived = true
            close(code: 1000, reason: "")
        case .ping:
            send(WebSocketFrame(fin: true, opcode: .pong, maskKey: mask, data: frame.unmaskedData))
        case .pong:
            break
        default:
            close(code: 1003, reason: "links carry text frames")
        }
    }

    private func greet(_ bytes: [UInt8]) {
        guard var handshake, let hub, let context else { return }
        let step = handshake.receive(bytes)
        self.handshake = handshake
        switch step {
        case .reply(let greeting):
            write(greeting.encoded())
        case .established(let peer, let isolated, let reply):
            if let reply { write(reply.encoded()) }
            established = true
            greetingDeadline?.cancel()
            startWatch(probeTimeout: hub.probeTimeout)
            let link = self.link
            let dialled = self.dialled
            let session = NIOLoopBound(self, eventLoop: context.eventLoop)
            hub.enqueue { $0.linkUp(link, session: session, peer: peer, isolated: isolated, dialled: dialled) }
        case .failed(let reason):
            hub.enqueue { $0.greetingFailed(reason) }
            close(code: 1008, reason: "greeting failed")
        }
    }

    private func settled() {
        inFlight -= 1
        if readHeld, inFlight < Self.maxMessagesInFlight, let context {
            readHeld = false
            context.read()
        }
    }

    func read(context: ChannelHandlerContext) {
        guard inFlight < Self.maxMessagesInFlight else {
            readHeld = true
            return
        }
        context.read()
    }

    /// A dialler masks its frames, as RFC 6455 asks of the side that opened the WebSocket.
    private var mask: WebSocketMaskingKey? { dialled != nil ? .random() : nil }

    /// Every quarter probe timeout: a heartbeat when nothing was written for two of those (at the accepting end,
    /// and nothing read for three: an idle link carries them one way), and a look at TCP when nothing was read for
    /// a probe timeout. The times lie on one grid of the monotonic clock for every link, so the links on one event
    /// loop are looked at in one wakeup.
    private func startWatch(probeTimeout: TimeAmount) {
        self.probeTimeout = probeTimeout
        if let channel = context?.channel { Self.tuneForThinStream(channel) }
        scheduleWatch()
    }

    /// A link is a thin stream (a few small messages, rarely a bulk transfer), and TCP can resend for such a stream
    /// at linear times instead of doubling each time (`TCP_THIN_LINEAR_TIMEOUTS`): after its first resend, the next
    /// comes one resend time later, so a cut shows as two resends 0.4 s after the data instead of 0.6 s — the same
    /// two losses in a row, only seen sooner. Linux takes a stream as thin only once a loss set its slow-start
    /// threshold, which BBR never does: links use Reno, which does (their few bytes make the choice of congestion
    /// control otherwise moot). Where either is refused (Reno not allowed here), links keep the system's defaults.
    static func tuneForThinStream(_ channel: any Channel) {
        #if os(Linux)
        guard let socket = channel as? any SocketOptionProvider else { return }
        _ = socket.unsafeSetSocketOption(level: .tcp, name: NIOBSDSocket.Option(rawValue: CInt(TCP_CONGESTION)), value: CongestionControlName.reno)
        _ = socket.unsafeSetSocketOption(level: .tcp, name: NIOBSDSocket.Option(rawValue: CInt(TCP_THIN_LINEAR_TIMEOUTS)), value: CInt(1))
        #endif
    }

    private func scheduleWatch() {
        let step = UInt64(tick.nanoseconds)
        let now = NIODeadline.now().uptimeNanoseconds
        let due = (now / step + 1) * step
        watchDue = .uptimeNanoseconds(due)
        watch = deadlines.schedule(in: .nanoseconds(Int64(due - now)), self)
    }

    private func stopWatch() {
        if let watch { deadlines.cancel(watch) }
        if let closeLook { deadlines.cancel(closeLook) }
        (watch, watchDue, closeLook) = (nil, nil, nil)
    }

    /// The grid's tick, or a closer look at TCP asked for in between (deadlines come at or after their time).
    func deadlinePassed() {
        if let watchDue, NIODeadline.now() >= watchDue {
            (watch, self.watchDue) = (nil, nil)
            watchTransport()
        } else {
            closeLook = nil
            lookAtTransport()
        }
    }

    private func watchTransport() {
        guard established, !ended, !closing, let context else { return }
        scheduleWatch()
        // The grid's ticks and the times of writes and reads are not exactly a tick apart: a heartbeat goes half a
        // tick early, a look at TCP 10 ms early (so that one lost heartbeat, whose resend comes 0.2 s after, never
        // makes a link quiet for a probe timeout).
        let early = NIODeadline.now() + .nanoseconds(tick.nanoseconds / 2)
        if early - lastWrite >= tick + tick, dialled != nil || early - lastRead >= tick + tick + tick {
            send(WebSocketFrame(fin: true, opcode: .pong, maskKey: mask, data: context.channel.allocator.buffer(capacity: 0)))
        }
        lookAtTransport()
    }

    /// Once nothing was read for a probe timeout: whether TCP resent data that is still unacknowledged — twice (a
    /// stall), or once (doubtful). While data has been in flight longer than a delayed acknowledgement and two round
    /// trips take, the next look comes `closeLookInterval` later rather than at the next tick, so that the resends
    /// of a cut-off link are seen as they happen.
    private func lookAtTransport() {
        #if os(Linux)
        guard established, !ended, !closing, let context, let hub, NIODeadline.now() + .milliseconds(10) - lastRead >= probeTimeout,
            let provider = context.channel as? any SocketOptionProvider
        else { return }
        let link = self.link
        let session = NIOLoopBound(self, eventLoop: context.eventLoop)
        provider.getTCPInfo().whenSuccess { info in
            guard info.tcpi_unacked > 0 else { return }
            if info.tcpi_retransmits >= Self.stallResends {
                hub.enqueue { $0.transportStalled(link) }
                return
            }
            if info.tcpi_retransmits > 0 { hub.enqueue { $0.transportDoubtful(link) } }
            if UInt64(info.tcpi_last_data_sent) * 1_000 >= UInt64(info.tcpi_rtt) * 2 + 50_000 { session.value.lookSoon() }
        }
        #endif
    }

    private func lookSoon() {
        guard closeLook == nil, established, !ended, !closing else { return }
        closeLook = deadlines.schedule(in: Self.closeLookInterval, self)
    }

    static let closeLookInterval = TimeAmount.milliseconds(25)

    /// Resends of unacknowledged data that, after a probe timeout of quiet, make a link's transport stalled: two.
    /// A heartbeat that goes unacknowledged is sent again by TCP's tail probe about 0.2 s later, then resent at
    /// 0.4 s and 0.6 s (linear times: `tuneForThinStream`), so this is the third time unanswered. One resend would
    /// come sooner, but under 10 % loss and 100 ms jitter it often happens on a sound path (the simulator showed
    /// it: a suspicion, refuted, every few seconds in a mesh of 40); it only makes the link doubtful, which lets
    /// this node answer a neighbour's `pingReq` for the member with `nack` at once, never suspect anyone.
    static let stallResends = 2

    /// One link message, as a text frame. On the channel's event loop.
    func write(_ bytes: [UInt8]) {
        guard let context, !closing else { return }
        send(WebSocketFrame(fin: true, opcode: .text, maskKey: mask, data: context.channel.allocator.buffer(bytes: bytes)))
    }

    private func send(_ frame: WebSocketFrame) {
        guard let context else { return }
        lastWrite = .now()
        context.writeAndFlush(wrapOutboundOut(frame), promise: nil)
    }

    /// Closes the link: a close frame, then the socket once it is written.
    func close(code: UInt16, reason: String) {
        guard let context, !closing else { return }
        closing = true
        var payload = context.channel.allocator.buffer(capacity: 2 + reason.utf8.count)
        payload.writeInteger(code)
        payload.writeString(String(reason.prefix(120)))
        let channel = context.channel
        context.writeAndFlush(wrapOutboundOut(WebSocketFrame(fin: true, opcode: .connectionClose, maskKey: mask, data: payload)))
            .whenComplete { _ in channel.close(promise: nil) }
    }

    func channelInactive(context: ChannelHandlerContext) {
        end()
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        broken = true
        close(code: 1002, reason: "protocol error")
    }

    private func end() {
        guard !ended else { return }
        ended = true
        greetingDeadline?.cancel()
        stopWatch()
        guard let hub else { return }
        let link = self.link
        // Without a close from the other end the link was lost: its process died, or the network broke.
        let lost = broken || (!closeReceived && !closing)
        if established {
            hub.enqueue { $0.linkDown(link, lost: lost) }
        } else if let dialled {
            // A dial ends here too, or its address would count as being dialled until the dial's deadline.
            let broke = lost && !closeReceived
            hub.enqueue { $0.dialEnded(dialled, lost: broke, reason: "the link closed during the greeting") }
        }
    }
}

/// A congestion control's name as `setsockopt(TCP_CONGESTION)` reads it: the bytes, NUL-terminated.
struct CongestionControlName: Sendable {
    var bytes: (UInt8, UInt8, UInt8, UInt8, UInt8)
    static let reno = CongestionControlName(bytes: (0x72, 0x65, 0x6E, 0x6F, 0))
}
