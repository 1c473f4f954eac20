import AshitaClient
import AshitaCore
import AshitaNode
import AshitaSystem
import AshitaTestSupport
import Foundation
import NIOCore
import NIOWebSocket
import Testing

/// Each limit of `NodeLimits`, hit on purpose, over real sockets: the offender is answered or closed, and
/// the node and everyone else carry on.
@Suite(.serialized) struct LimitsTests {
    @Test func aFloodIsRateLimitedThenClosedAndOthersAreUnaffected() async throws {
        // The flooder never authenticates: an hour for that, so the auth deadline cannot close it first. Forty
        // pings at once: the burst (3) is answered; on a loaded machine that reads them over a few seconds a
        // token or two more may come back, but never enough to stop the five strikes that close it.
        try await withNode(configure: {
            $0.limits.messageRate = 1
            $0.limits.messageBurst = 3
            $0.limits.authTimeout = .seconds(3600)
        }) { node in
            let bystander = try await WebSocketPeer.joined(node, home: nil)
            let flooder = try await WebSocketPeer.to(node)
            for _ in 0..<40 { try? await flooder.send(#"{"type":"ping"}"#) }
            var pongs = 0
            while true {
                let answer = try #require(try await within(10, "an answer to a ping") { await flooder.nextEvent() })
                if answer.type == "pong" {
                    pongs += 1
                    continue
                }
                #expect(answer.type == "error" && answer.content.code == "rate-limited", "\(answer)")
                break
            }
            #expect(pongs >= 3, "the burst of 3 was not answered")
            try await flooder.expectClose(.policyViolation)
            try await bystander.expectNothingButPong()
        }
    }

    @Test func clientsOverTheNodesLimitAreClosedWith1013() async throws {
        try await withNode(configure: { $0.limits.maxClients = 2 }) { node in
            let first = try await WebSocketPeer.joined(node, home: nil)
            _ = try await WebSocketPeer.joined(node, home: nil)
            // The node closes it with 1013 right after its 101. Read raw (NIO's client can lose a frame that
            // comes while it still finishes the upgrade): the close frame must come, with its reason.
            let third = try #require(RawConnection(port: node.localPort))
            #expect(await onDedicatedThread { third.upgradeToWebSocket() })
            let close = await onDedicatedThread { third.readUntilCloseFrame() }
            #expect(close?.code == CloseReason.full.code && close?.reason == CloseReason.full.reason, "\(String(describing: close))")
            #expect(try await getJSON("\(node.url)/api/v1/node")["clients"] as? Int == 2)
            try await first.expectNothingButPong()
        }
    }

    @Test func connectionsOverThePerIPLimitAreDropped() async throws {
        try await withNode(configure: { $0.limits.maxConnectionsPerIP = 2 }) { node in
            let first = try await WebSocketPeer.joined(node, home: nil)
            let second = try await WebSocketPeer.joined(node, home: nil)
            await #expect(throws: WebSocketClientError.self) { _ = try await WebSocketPeer.to(node) }
            try await second.send(#"{"type":"ping"}"#)
            try await second.expect("pong")
            _ = first
        }
    }

    @Test func aSocketThatNeverAuthenticatesIsClosed() async throws {
        try await withNode(configure: { $0.limits.authTimeout = .seconds(1) }) { node in
            // The well-behaved client sends its auth in the same packet as its upgrade: its deadline cannot pass
            // first however busy the machine is.
            let early = try #require(RawConnection(port: node.localPort))
            early.send(Array(RawConnection.upgradeRequest.utf8) + RawConnection.frame(opcode: 0x1, payload: Array(#"{"type":"auth"}"#.utf8)))
            #expect(await onDedicatedThread { early.readHead() }?.hasPrefix("HTTP/1.1 101") == true)
            let silent = try await WebSocketPeer.to(node)
            try await silent.expectClose(.authTimeout)
            // Authenticated, it stays: it answers a ping after the silent one's deadline.
            early.send(RawConnection.frame(opcode: 0x9, payload: Array("still here".utf8)))
            var pong: [UInt8]?
            for _ in 0..<5 where pong == nil {
                guard let frame = await onDedicatedThread({ early.readFrame() }) else { break }
                if frame.opcode == 0xA { pong = frame.payload }
            }
            #expect(pong == Array("still here".utf8))
        }
    }

    @Test func aLinkThatMissesTwoPongsIsClosedAndAnnouncedGone() async throws {
        try await withNode(configure: { $0.limits.pingInterval = .seconds(1) }) { node in
            let observer = try await WebSocketPeer.joined(node, home: nil)
            // A raw client, which reads but never answers a ping: a link gone silent.
            let silent = try #require(RawConnection(port: node.localPort))
            #expect(await onDedicatedThread { silent.upgradeToWebSocket() })
            silent.send(RawConnection.frame(opcode: 0x1, payload: Array(#"{"type":"auth","node":"127.0.0.1:7444"}"#.utf8)))
            try await observer.expectFrame(discoveredFrame("127.0.0.1:7444"))
            try await observer.expectFrame(#"{"content":{"nodeIp":"127.0.0.1:7444"},"type":"nodeLeft"}"#)
            let close = await onDedicatedThread { silent.readUntilCloseFrame() }
            #expect(close?.code == CloseReason.noPong.code && close?.reason == CloseReason.noPong.reason, "\(String(describing: close))")
        }
    }

    @Test func aReaderThatStopsReadingIsClosedAndTheNodeCarriesOn() async throws {
        try await withNode(configure: {
            $0.limits.outboundBufferBytes = 4096
            $0.limits.messageRate = 1_000_000
            $0.limits.messageBurst = 1_000_000
        }) { node in
            let events = try await EventSubscription(node, types: "clientConnected,clientDisconnected")
            let slow = try #require(RawConnection(port: node.localPort, receiveBuffer: 4096))
            #expect(await onDedicatedThread { slow.upgradeToWebSocket() })
            let slowID = try await clientID(connectedFirstOn: events)
            // 60 peers with long names make every answer to `auth` a nodeList of about 25 KB; the reader asks
            // again and again and never reads: the kernel's buffers fill, then the node's queue bound.
            var helpers: [WebSocketPeer] = []
            let long = [String](repeating: String(repeating: "a", count: 60), count: 3).joined(separator: ".")
            for i in 0..<60 { helpers.append(try await WebSocketPeer.joined(node, home: "helper-\(i).\(long).example:1")) }
            let bystander = try await WebSocketPeer.joined(node, home: nil)
            let auth = RawConnection.maskedFrame(opcode: 0x1, payload: Array(#"{"type":"auth"}"#.utf8))
            try await expectClosedWithoutReading(slow, slowID, sending: auth, perBatch: 50, events: events, bystander: bystander)
        }
    }

    /// The node answers WebSocket pings outside the hub; its pongs are bounded all the same.
    @Test func pingsFromAReaderThatNeverReadsAreNotBufferedWithoutBound() async throws {
        try await withNode(configure: {
            $0.limits.outboundBufferBytes = 4096
            $0.limits.socketSendBufferBytes = 4096
            $0.limits.messageRate = 1_000_000
            $0.limits.messageBurst = 1_000_000
            // The node's own pings check the bound too: far apart, so the pongs' check is what is tested.
            $0.limits.pingInterval = .seconds(3600)
        }) { node in
            let events = try await EventSubscription(node, types: "clientConnected,clientDisconnected")
            let slow = try #require(RawConnection(port: node.localPort, receiveBuffer: 4096))
            #expect(await onDedicatedThread { slow.upgradeToWebSocket() })
            let slowID = try await clientID(connectedFirstOn: events)
            // Authenticated, so the auth timeout cannot be what closes it.
            slow.send(RawConnection.maskedFrame(opcode: 0x1, payload: Array(#"{"type":"auth"}"#.utf8)))
            let bystander = try await WebSocketPeer.joined(node, home: nil)
            // At most 2,000 pings of 125 bytes: far more than the buffers hold once they are small.
            let ping = RawConnection.maskedFrame(opcode: 0x9, payload: [UInt8](repeating: 0x61, count: 125))
            try await expectClosedWithoutReading(slow, slowID, sending: ping, perBatch: 100, events: events, bystander: bystander)
        }
    }

    /// The id of the client whose `clientConnected` is the next event.
    private func clientID(connectedFirstOn events: EventSubscription) async throws -> UInt64 {
        let event = try #require(try await within(10, "the slow reader's clientConnected") { try await events.next() })
        #expect(event.event == "clientConnected")
        let content = try #require(try JSONSerialization.jsonObject(with: Data(event.data.utf8)) as? [String: Any])
        return try #require((content["content"] as? [String: Any])?["client"] as? UInt64)
    }

    /// Sends `frame` from a client that never reads, in at most 20 batches of `perBatch` (until the node hangs
    /// up), then expects the node to say it closed that very client, with 1008 and why, and a bystander that
    /// received nothing meanwhile.
    private func expectClosedWithoutReading(
        _ slow: RawConnection, _ slowID: UInt64, sending frame: [UInt8], perBatch: Int, events: EventSubscription,
        bystander: WebSocketPeer
    ) async throws {
        let batch = Array([[UInt8]](repeating: frame, count: perBatch).joined())
        await onDedicatedThread {
            for _ in 0..<20 { guard slow.send(batch) else { return } }
        }
        let closed = try await within(30, "the slow reader's disconnect") { () -> JournalContent? in
            // Other clients come and go meanwhile: at most 500 events until this one's end.
            for _ in 0..<500 {
                guard let event = try await events.next() else { return nil }
                struct Entry: Decodable { var content: JournalContent }
                let content = try JSONDecoder().decode(Entry.self, from: Data(event.data.utf8)).content
                if event.event == "clientDisconnected", content.client == slowID { return content }
            }
            return nil
        }
        #expect(closed?.closeCode == 1008, "\(String(describing: closed))")
        #expect(closed?.message == "too slow: outbound queue full")
        try await bystander.expectNothingButPong()
    }

    @Test func eventStreamsOverTheLimitAreAnswered503() async throws {
        try await withNode(configure: { $0.limits.maxEventStreams = 1 }) { node in
            let first = try await EventSubscription(node, types: nil)
            let second = try await CurlHTTPClient().get("\(node.url)/api/v1/events")
            #expect(second.status == 503)
            #expect(second.text.contains(#""code":"busy""#))
            _ = first
        }
    }

    @Test func oversizedHeadersAreAnswered431() async throws {
        try await withNode { node in
            let big = String(repeating: "a", count: 20_000)
            let response = try await CurlHTTPClient().get("\(node.url)/healthz", headers: ["X-Padding: \(big)"])
            #expect(response.status == 431)
            #expect(try await CurlHTTPClient().get("\(node.url)/healthz").status == 200)
        }
    }

    @Test func aRequestHeadThatNeverEndsIsCutOff() async throws {
        try await withNode(configure: { $0.limits.headerTimeout = .seconds(1) }) { node in
            let slowloris = try #require(RawConnection(port: node.localPort))
            slowloris.send("GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
            let (bytes, closed) = await onDedicatedThread { slowloris.readUntilClosed() }
            #expect(closed)
            #expect(bytes.isEmpty)
            // Between requests on a kept-alive connection the same bound applies.
            let idle = try #require(RawConnection(port: node.localPort))
            idle.send("GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
            let (answer, idleClosed) = await onDedicatedThread { idle.readUntilClosed() }
            #expect(String(decoding: answer, as: UTF8.self).hasPrefix("HTTP/1.1 200"))
            #expect(idleClosed)
        }
    }
}

/// `/api/v1/events` read on a thread of its own, one event at a time.
final class EventSubscription: Sendable {
    private let events: AsyncThrowingStream<ServerSentEvent, any Error>

    init(_ node: NodeServer, types: String?) async throws {
        let query = types.map { "?types=\($0)" } ?? ""
        let stream = EventStreamReader.open("\(node.url)/api/v1/events\(query)", lastEventID: nil, client: CurlHTTPClient())
        let (events, continuation) = AsyncThrowingStream.makeStream(of: ServerSentEvent.self)
        let (ready, readyContinuation) = AsyncStream.makeStream(of: Void.self)
        Task {
            do {
                for try await item in stream {
                    switch item {
                    case .position, .comment: readyContinuation.yield()
                    case .event(let event): continuation.yield(event)
                    }
                }
                continuation.finish()
            } catch {
                continuation.finish(throwing: error)
            }
            readyContinuation.finish()
        }
        self.events = events
        // The stream's preamble says the node has registered the subscriber.
        for await _ in ready { break }
    }

    func next() async throws -> ServerSentEvent? {
        var iterator = events.makeAsyncIterator()
        return try await iterator.next()
    }
}
