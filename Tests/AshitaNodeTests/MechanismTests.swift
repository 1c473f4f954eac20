import AshitaClient
import AshitaCore
import AshitaNode
@testable import AshitaSystem
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

    /// Only clean, read-only file mappings are released: never a writable one, one holding private copies of its
    /// pages (relocated data made read-only), one without a file, or one whose smaps says nothing of its copies.
    @Test func startupPagesAreOnlyCleanReadOnlyFileMappings() {
        let smaps = """
            55a198613000-55a198a7e000 r--p 00000000 fe:01 1234 /usr/bin/ashita-node
            Rss:                3000 kB
            Anonymous:             0 kB
            55a198a7e000-55a199b4f000 r-xp 0046b000 fe:01 1234 /usr/bin/ashita-node
            Anonymous:             0 kB
            55a199b4f000-55a199bff000 r--p 0153c000 fe:01 1234 /usr/bin/ashita-node
            Anonymous:           700 kB
            55a199bff000-55a199c10000 rw-p 015ec000 fe:01 1234 /usr/bin/ashita-node
            Anonymous:            68 kB
            7f8ad5c9e000-7f8ad5d12000 r-xp 00010000 fe:01 99 /usr/lib/x86_64-linux-gnu/libm.so.6
            Anonymous:             0 kB
            7f8ad5d82000-7f8ad5d83000 r--p 00000000 00:00 0
            Anonymous:             0 kB
            7ffd1000-7ffd3000 r-xp 00000000 00:00 0 [vdso]
            Anonymous:             0 kB
            7f0000000000-7f0000001000 r--p 00000000 fe:01 7 /opt/lib/with space.so
            Anonymous:             0 kB
            7f0000002000-7f0000003000 r--p 00000000 fe:01 8 /opt/lib/unknown.so
            """
        let released = CodePages.parse(smaps).filter(\.isReleasable)
        #expect(released.map(\.path) == ["/usr/bin/ashita-node", "/usr/bin/ashita-node", "/usr/lib/x86_64-linux-gnu/libm.so.6", "/opt/lib/with space.so"])
        #expect(released.first.map { $0.end - $0.start } == 0x46b000)
    }

    /// Released in this very process (threads running, Foundation and the test runner mapped), code and constants
    /// fault back in and everything goes on as before.
    @Test func thisProcessRunsOnAfterReleasingItsCodePages() throws {
        #if os(Linux)
        #expect(CodePages.release() > 0)
        let record = try JSONDecoder().decode([String: Int].self, from: JSONEncoder().encode(["after": 1]))
        #expect(record == ["after": 1])
        #endif
    }
}
