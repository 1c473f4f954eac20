import AshitaClient
import AshitaCore
import AshitaNode
import AshitaSystem
import AshitaTestSupport
import Foundation
import Testing

/// Mechanisms of SECURITY.md that no other test exercises on their own.
@Suite struct MechanismTests {
    @Test func aWebSocketPingIsAnsweredWithItsPayload() async throws {
        try await withNode { node in
            let client = try #require(RawConnection(port: node.localPort))
            #expect(await onDedicatedThread { client.upgradeToWebSocket() })
            client.send(RawConnection.frame(opcode: 0x1, payload: Array(#"{"type":"auth"}"#.utf8)))
            client.send(RawConnection.frame(opcode: 0x9, payload: Array("hello".utf8)))
            var pong: [UInt8]?
            for _ in 0..<5 where pong == nil {
                guard let frame = await onDedicatedThread({ client.readFrame() }) else { break }
                if frame.opcode == 0xA { pong = frame.payload }
            }
            #expect(pong == Array("hello".utf8))
        }
    }

    @Test func thePerAddressLimitHoldsForHTTPToo() async throws {
        try await withNode(configure: { $0.limits.maxConnectionsPerIP = 3 }) { node in
            let held = (0..<3).compactMap { _ in RawConnection(port: node.localPort, from: "127.0.0.2") }
            #expect(held.count == 3)
            // Each answered once (and kept alive): certainly counted before the fourth comes (connections are set
            // up on two event loops, so one that comes later can be counted first).
            for connection in held {
                connection.send("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
                #expect(await onDedicatedThread { connection.readHead() }?.hasPrefix("HTTP/1.1 200") == true)
            }
            // The fourth from that address is dropped at once; another address is served.
            let fourth = try #require(RawConnection(port: node.localPort, from: "127.0.0.2"))
            #expect(await onDedicatedThread { fourth.waitForPeerClose(seconds: 5) })
            let other = try #require(RawConnection(port: node.localPort, from: "127.0.0.3"))
            other.send("GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            let answer = await onDedicatedThread { other.readUntilClosed() }
            #expect(String(decoding: answer.bytes, as: UTF8.self).hasPrefix("HTTP/1.1 200"))
            // The three stay open until here (a RawConnection closes when it is released).
            withExtendedLifetime(held) {}
        }
    }

    @Test func aBlockedAddressLeavesOthersUnaffected() async throws {
        try await withNode { node in
            let token = try String(contentsOfFile: node.dataDirectory.tokenPath, encoding: .utf8).trimmingCharacters(in: .newlines)
            func post(_ bearer: String, from source: String) async -> String {
                guard let connection = RawConnection(port: node.localPort, from: source) else { return "" }
                connection.send("POST /api/v1/auth HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer \(bearer)\r\nConnection: close\r\nContent-Length: 0\r\n\r\n")
                return String(decoding: await onDedicatedThread { connection.readUntilClosed() }.bytes, as: UTF8.self)
            }
            let wrong = String(repeating: "0", count: 64)
            for _ in 0..<5 { #expect(await post(wrong, from: "127.0.0.2").hasPrefix("HTTP/1.1 401")) }
            // Blocked now, the right token included.
            #expect(await post(token, from: "127.0.0.2").hasPrefix("HTTP/1.1 429"))
            // Another address is not.
            #expect(await post(token, from: "127.0.0.3").hasPrefix("HTTP/1.1 204"))
        }
    }

    @Test func clientsHearTheAdvertisedAddress() async throws {
        try await withNode(configure: { $0.advertise = try! NodeAddress(parsing: "node.example:8443") }) { node in
            let peer = try await WebSocketPeer.to(node)
            try await peer.auth(nil)
            #expect(try await peer.expect("nodeConnected").content.nodeIp == "node.example:8443")
            #expect(try await getJSON("\(node.url)/api/v1/node")["node"] as? String == "node.example:8443")
        }
    }

    @Test func theChallengeSignedIsTheLiteralProtocolString() async throws {
        try await withNode { node in
            let answer = try await getJSON("\(node.url)/api/v1/node?challenge=n0nce")
            let key = try #require((answer["publicKey"] as? String).flatMap(Hex.decode))
            let signature = try #require((answer["signature"] as? String).flatMap(Hex.decode))
            // The bytes as the protocol spells them, not through the node's own helper.
            #expect(NodeKey.isValidSignature(signature, of: Array("ashita-node-challenge:n0nce".utf8), publicKey: key))
            #expect(NodeKey.challengeMessage("n0nce") == Array("ashita-node-challenge:n0nce".utf8))
        }
    }

    @Test func aKnownAddressAnsweringAsAnotherNodeIsLogged() async throws {
        try await withNode { real in
            // The node remembers another id at the real node's address.
            let dir = temporaryDirectory()
            let planted = #"{"nodes":{"\#(real.name)":{"id":"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa","seen":"2026-01-01T00:00:00.000Z","tls":false}},"version":1}"#
            try writeFile("\(dir)/known-nodes.json", planted + "\n")
            let log = LogRecorder()
            try await withNodes(1, dataDirectories: [dir], logger: log.logger, configure: { $0.limits.verifyAnnouncements = true }) { nodes in
                let observer = try await WebSocketPeer.joined(nodes[0], home: nil)
                let announcer = try await WebSocketPeer.to(nodes[0])
                try await announcer.auth(real.name)
                _ = try await observer.expect("nodeDiscovered")
            }
            let warning = log.recorded.first { $0.contains("a known address answers with another node id") }
            #expect(warning?.contains("was=aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa") == true, "\(log.recorded)")
            #expect(warning?.contains("now=\(real.id)") == true)
        }
    }
}
