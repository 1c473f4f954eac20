import AshitaClient
import AshitaCore
import AshitaNode
import AshitaTestSupport
import Foundation
import NIOCore
import NIOWebSocket
import Testing

/// Each limit of `NodeLimits`, hit on purpose, over real sockets: the offender is answered or closed, and
/// the node and everyone else carry on.
@Suite(.serialized) struct LimitsTests {
    @Test func aFloodIsRateLimitedThenClosedAndOthersAreUnaffected() async throws {
        try await withNode(configure: { $0.limits.messageRate = 1; $0.limits.messageBurst = 3 }) { node in
            let bystander = try await WebSocketPeer.joined(node, home: nil)
            let flooder = try await WebSocketPeer.to(node)
            for _ in 0..<10 { try? await flooder.send(#"{"type":"ping"}"#) }
            for _ in 0..<3 { try await flooder.expect("pong") }
            let refused = try await flooder.expect("error")
            #expect(refused.content.code == "rate-limited")
            #expect(try await flooder.expectClose() == 1008)
            try await bystander.send(#"{"type":"ping"}"#)
            try await bystander.expect("pong")
        }
    }

    @Test func clientsOverTheNodesLimitAreClosedWith1013() async throws {
        try await withNode(configure: { $0.limits.maxClients = 2 }) { node in
            let first = try await WebSocketPeer.joined(node, home: nil)
            _ = try await WebSocketPeer.joined(node, home: nil)
            let third = try await WebSocketPeer.to(node)
            // The node closes it with 1013 right after its 101. When the close reaches the client while NIO's
            // client is still finishing the upgrade, the frame is lost there and only the connection's end
            // arrives; either way the node refused it.
            var code: UInt16?
            while let message = try await third.nextMessage() {
                if case .close(let received, _) = message { code = received }
            }
            #expect(code == nil || code == 1013, "closed with \(String(describing: code))")
            #expect(try await getJSON("\(node.url)/api/v1/node")["clients"] as? Int == 2)
            try await first.send(#"{"type":"ping"}"#)
            try await first.expect("pong")
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
        try await withNode(configure: { $0.limits.authTimeoutSeconds = 0.3 }) { node in
            let early = try await WebSocketPeer.joined(node, home: nil)
            let silent = try await WebSocketPeer.to(node)
            #expect(try await silent.expectClose() == 1008)
            // `early` connected first, so its deadline passed first: authenticated, it stays.
            try await early.send(#"{"type":"ping"}"#)
            try await early.expect("pong")
        }
    }

    @Test func aLinkThatMissesTwoPongsIsClosedAndAnnouncedGone() async throws {
        try await withNode(configure: { $0.limits.pingIntervalSeconds = 1 }) { node in
            let observer = try await WebSocketPeer.joined(node, home: nil)
            let silent = try await WebSocketPeer.connect(host: "127.0.0.1", port: node.localPort, answerPings: false)
            try await silent.auth("127.0.0.1:7444")
            try await silent.expect("nodeConnected")
            try await observer.expect("nodeDiscovered")
            #expect(try await observer.expect("nodeLeft").content.nodeIp == "127.0.0.1:7444")
            #expect(try await silent.expectClose() == 1001)
        }
    }

    @Test func aReaderThatStopsReadingIsClosedAndTheNodeCarriesOn() async throws {
        try await withNode(configure: {
            $0.limits.outboundBufferBytes = 4096
            $0.limits.messageRate = 1_000_000
            $0.limits.messageBurst = 1_000_000
        }) { node in
            let events = try await EventSubscription(node, types: "clientDisconnected")
            let slow = try #require(RawConnection(port: node.localPort, receiveBuffer: 4096))
            #expect(await onDedicatedThread { slow.upgradeToWebSocket() })
            // 60 peers with long names make every answer to `auth` a nodeList of about 25 KB; the reader asks
            // again and again and never reads: the kernel's buffers fill, then the node's queue bound.
            var helpers: [WebSocketPeer] = []
            let long = [String](repeating: String(repeating: "a", count: 60), count: 3).joined(separator: ".")
            for i in 0..<60 { helpers.append(try await WebSocketPeer.joined(node, home: "helper-\(i).\(long).example:1")) }
            let bystander = try await WebSocketPeer.joined(node, home: nil)
            let auth = RawConnection.maskedFrame(opcode: 0x1, payload: Array(#"{"type":"auth"}"#.utf8))
            try await expectClosedWithoutReading(slow, sending: auth, perBatch: 50, events: events, bystander: bystander)
        }
    }

    /// The node answers WebSocket pings outside the hub; its pongs are bounded all the same.
    @Test func pingsFromAReaderThatNeverReadsAreNotBufferedWithoutBound() async throws {
        try await withNode(configure: {
            $0.limits.outboundBufferBytes = 4096
            $0.limits.socketSendBufferBytes = 4096
            $0.limits.messageRate = 1_000_000
            $0.limits.messageBurst = 1_000_000
        }) { node in
            let events = try await EventSubscription(node, types: "clientDisconnected")
            let slow = try #require(RawConnection(port: node.localPort, receiveBuffer: 4096))
            #expect(await onDedicatedThread { slow.upgradeToWebSocket() })
            // Authenticated, so the auth timeout cannot be what closes it.
            slow.send(RawConnection.maskedFrame(opcode: 0x1, payload: Array(#"{"type":"auth"}"#.utf8)))
            let bystander = try await WebSocketPeer.joined(node, home: nil)
            // At most 2,000 pings of 125 bytes: far more than the buffers hold once they are small.
            let ping = RawConnection.maskedFrame(opcode: 0x9, payload: [UInt8](repeating: 0x61, count: 125))
            try await expectClosedWithoutReading(slow, sending: ping, perBatch: 100, events: events, bystander: bystander)
        }
    }

    /// Sends `frame` from a client that never reads, in at most 20 batches of `perBatch` (until the node hangs
    /// up), then expects the node's `clientDisconnected` and a bystander still served.
    private func expectClosedWithoutReading(
        _ slow: RawConnection, sending frame: [UInt8], perBatch: Int, events: EventSubscription, bystander: WebSocketPeer
    ) async throws {
        let batch = Array([[UInt8]](repeating: frame, count: perBatch).joined())
        let gone = Task { try await events.next() }
        await onDedicatedThread {
            for _ in 0..<20 { guard slow.send(batch) else { return } }
        }
        let disconnected = try await within(30, "the slow reader's disconnect") { try await gone.value }
        #expect(disconnected?.event == "clientDisconnected")
        try await bystander.send(#"{"type":"ping"}"#)
        try await bystander.expect("pong")
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
        try await withNode(configure: { $0.limits.headerTimeoutSeconds = 1 }) { node in
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
