import AshitaCore
import Logging
import NIOCore
import NIOWebSocket

/// One client's WebSocket, from upgrade to close: frames in go to the hub; frames out are written by the hub
/// straight onto the channel. When the socket closes, the hub forgets the client.
struct WebSocketConnection {
    let channel: NIOAsyncChannel<WebSocketFrame, WebSocketFrame>
    let outlet: NIOLoopBound<EncodedFrameOutlet>
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
        // Control frames never reach the hub, so they get a bucket of their own: pings beyond it go unanswered.
        var pings = TokenBucket(rate: hub.limits.messageRate, burst: hub.limits.messageBurst, at: .now())
        do {
            for try await frame in inbound {
                switch frame.opcode {
                case .text:
                    var data = frame.unmaskedData
                    await hub.receive(id, .text(data.readBytes(length: data.readableBytes) ?? []))
                case .binary:
                    await hub.receive(id, .binary)
                case .ping:
                    guard pings.take(at: .now()) else { continue }
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
                case .connectionClose:
                    // Echo the client's code, as RFC 6455 asks, then end.
                    var data = frame.unmaskedData
                    let code = data.readInteger(as: UInt16.self) ?? 1000
                    try? await underlying.writeAndFlush(closeFrame(code: code == 1005 || code == 1006 ? 1000 : code, reason: "")).get()
                    return
                default:
                    break
                }
            }
        } catch let error as NIOWebSocketError where error == .invalidFrameLength {
            await hub.rejectOversized(id)
        } catch NIOWebSocketFrameAggregator.Error.accumulatedFrameSizeIsTooLarge {
            await hub.rejectOversized(id)
        } catch let error where error is NIOWebSocketFrameAggregator.Error || error is NIOWebSocketError {
            logger.debug("protocol error", metadata: ["client": "\(id)", "error": "\(error)"])
            try? await underlying.writeAndFlush(closeFrame(code: 1002, reason: "protocol error")).get()
        }
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
