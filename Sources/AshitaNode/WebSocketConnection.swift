import AshitaCore
import Logging
import NIOCore
import NIOWebSocket

/// One client's WebSocket, from upgrade to close. Two tasks: the reader feeds frames to the hub; the writer
/// drains the client's outbox. When either ends, so does the other, and the hub forgets the client.
struct WebSocketConnection {
    let channel: NIOAsyncChannel<WebSocketFrame, WebSocketFrame>
    let remote: String
    let hub: MeshHub
    let logger: Logger

    func run() async {
        let outbox = Outbox(capacity: hub.limits.outboxFrames)
        guard let id = await hub.connect(remote: remote, outbox: outbox) else {
            try? await channel.channel.writeAndFlush(closeFrame(code: 1001, reason: "node is shutting down")).get()
            try? await channel.channel.close()
            return
        }
        let underlying = channel.channel
        do {
            try await channel.executeThenClose { inbound, outbound in
                try await withThrowingTaskGroup(of: Bool.self) { group in
                    group.addTask {
                        while let batch = await outbox.next() {
                            if !batch.frames.isEmpty { try await outbound.write(contentsOf: batch.frames) }
                            if let close = batch.close {
                                // Through the channel itself, so we know it was written before the socket closes.
                                try await underlying.writeAndFlush(closeFrame(code: close.code, reason: close.reason)).get()
                                return false
                            }
                        }
                        return false
                    }
                    group.addTask {
                        try await read(inbound, id: id, outbox: outbox)
                    }
                    // The reader ending with a close under way waits for the writer to send it; otherwise the
                    // first to end ends the other.
                    if try await group.next() == true {
                        _ = try await group.next()
                    }
                    group.cancelAll()
                }
            }
        } catch {
            logger.debug("connection ended", metadata: ["client": "\(id)", "error": "\(error)"])
        }
        outbox.finish()
        await hub.disconnect(id)
    }

    /// Returns true when it ended by asking for a close frame, which the writer has yet to send.
    private func read(_ inbound: NIOAsyncChannelInboundStream<WebSocketFrame>, id: ClientID, outbox: Outbox)
        async throws -> Bool
    {
        do {
            for try await frame in inbound {
                switch frame.opcode {
                case .text:
                    var data = frame.unmaskedData
                    await hub.receive(id, .text(data.readBytes(length: data.readableBytes) ?? []))
                case .binary:
                    await hub.receive(id, .binary)
                case .ping:
                    outbox.push(WebSocketFrame(fin: true, opcode: .pong, data: frame.unmaskedData))
                case .connectionClose:
                    // Echo the client's code, as RFC 6455 asks, then end.
                    var data = frame.unmaskedData
                    let code = data.readInteger(as: UInt16.self) ?? 1000
                    outbox.close(code: code == 1005 || code == 1006 ? 1000 : code, reason: "")
                    return true
                default:
                    break
                }
            }
        } catch let error as NIOWebSocketError where error == .invalidFrameLength {
            await hub.rejectOversized(id)
            return true
        } catch NIOWebSocketFrameAggregator.Error.accumulatedFrameSizeIsTooLarge {
            await hub.rejectOversized(id)
            return true
        } catch let error where error is NIOWebSocketFrameAggregator.Error || error is NIOWebSocketError {
            logger.debug("protocol error", metadata: ["client": "\(id)", "error": "\(error)"])
            outbox.close(code: 1002, reason: "protocol error")
            return true
        }
        return false
    }
}

func closeFrame(code: UInt16, reason: String) -> WebSocketFrame {
    var data = ByteBuffer()
    data.writeInteger(code)
    data.writeString(String(reason.utf8.prefix(120)) ?? "")
    return WebSocketFrame(fin: true, opcode: .connectionClose, data: data)
}
