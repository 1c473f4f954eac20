import AshitaTestSupport
import AshitaClient
import AshitaNode
import Testing

/// The ashitajs README test case, frame for frame, with WebSocket clients that behave as the original page did:
/// each page keeps `ashita.socket` keyed by address and follows `nodeDiscovered` it has no socket for.
@Suite struct SeedScenarioTests {
    @Test func threeNodesAndThreePagesReproduceTheOriginalTestCase() async throws {
        try await withNodes(3, configure: { $0.limits.verifyAnnouncements = true }) { nodes in
            let (n8000, n9000, n10000) = (nodes[0], nodes[1], nodes[2])
            // A page opens a socket to its own node and sends auth with its home.
            let page8000 = try await WebSocketPeer.joined(n8000, home: n8000.name)
            let page9000 = try await WebSocketPeer.joined(n9000, home: n9000.name)
            let page10000 = try await WebSocketPeer.joined(n10000, home: n10000.name)
            var sockets8000 = [n8000.name]
            var sockets9000 = [n9000.name]

            // On the 9000 page: generateSocket("<8000>").
            let page9000to8000 = try await WebSocketPeer.to(n8000)
            sockets9000.append(n8000.name)
            try await page9000to8000.auth(n9000.name)
            // Page 9000 gets its nodeConnected from 8000, then page 8000 hears of 9000 once it is verified: the
            // frames byte for byte, as the protocol spells them.
            try await page9000to8000.expectFrame(connectedFrame(n8000))
            // nodeList lists verified peers; the newcomer's own home is still being checked.
            try await page9000to8000.expectFrame(#"{"content":{"nodeList":[],"nodes":[]},"type":"nodeList"}"#)
            try await page8000.expectFrame(discoveredFrame(n9000.name, id: n9000.id))
            let discovered = ReceivedEvent(type: "nodeDiscovered", content: .init(nodeIp: n9000.name))

            // Page 8000 follows the announcement: a socket to 9000 and auth with its own home.
            #expect(!sockets8000.contains(discovered.content.nodeIp!))
            let page8000to9000 = try await WebSocketPeer.local(
                port: Int(discovered.content.nodeIp!.split(separator: ":")[1])!)
            sockets8000.append(discovered.content.nodeIp!)
            try await page8000to9000.auth(n8000.name)
            // Page 9000 hears of 8000, which it knows already, and ignores it.
            try await page8000to9000.expectFrame(connectedFrame(n9000))
            try await page8000to9000.expectFrame(#"{"content":{"nodeList":[],"nodes":[]},"type":"nodeList"}"#)
            try await page9000.expectFrame(discoveredFrame(n8000.name, id: n8000.id))
            #expect(sockets9000.contains(n8000.name))

            #expect(sockets8000 == [n8000.name, n9000.name])
            #expect(sockets9000 == [n9000.name, n8000.name])
            #expect(try await peerNames(n8000) == [n9000.name])
            #expect(try await peerNames(n9000) == [n8000.name])
            #expect(try await peerNames(n10000) == [])

            // Page 10000 heard nothing: the next thing it hears is a newcomer on its own node.
            let newcomer = try await WebSocketPeer.to(n10000)
            try await newcomer.auth(n9000.name)
            let heard = try await page10000.expect("nodeDiscovered")
            #expect(heard.content.nodeIp == n9000.name)
            #expect(heard.content.id == n9000.id, "verified: the id found at that address")

            for peer in [page8000, page9000, page10000, page9000to8000, page8000to9000, newcomer] { await peer.close() }
        }
    }

    @Test func webSocketIsAcceptedOnSlashAndSlashWs() async throws {
        try await withNode { node in
            let peer = try await WebSocketPeer.to(node, path: "/ws")
            try await peer.send(#"{"type":"ping"}"#)
            try await peer.expect("pong")
            await peer.close()
            await #expect(throws: WebSocketClientError.notUpgraded("ws://127.0.0.1:\(node.localPort)/elsewhere")) {
                try await WebSocketPeer.to(node, path: "/elsewhere")
            }
        }
    }
}
