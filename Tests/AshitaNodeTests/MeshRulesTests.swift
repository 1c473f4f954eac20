import AshitaTestSupport
import AshitaClient
import AshitaNode
import Testing

/// The peer table's rules over real sockets: duplicate homes, re-auth, observers, leaving.
@Suite struct MeshRulesTests {
    @Test func twoClientsClaimingOneHomeDoNotEvictEachOther() async throws {
        try await withNode { node in
            let watcher = try await WebSocketPeer.joined(node, home: nil)
            let first = try await WebSocketPeer.joined(node, home: "10.0.0.5:8000")
            #expect(try await watcher.expect("nodeDiscovered").content.nodeIp == "10.0.0.5:8000")
            let second = try await WebSocketPeer.joined(node, home: "10.0.0.5:8000")
            #expect(try await peerNames(node) == ["10.0.0.5:8000"])
            await first.close()
            // Still listed while the second client remains; nodeLeft only once the last one goes.
            #expect(try await peerNames(node) == ["10.0.0.5:8000"])
            await second.close()
            #expect(try await watcher.expect("nodeLeft").content.nodeIp == "10.0.0.5:8000")
            #expect(try await peerNames(node) == [])
        }
    }

    @Test func reAuthUnderANewNameLeavesNoStaleEntry() async throws {
        try await withNode { node in
            let watcher = try await WebSocketPeer.joined(node, home: nil)
            let client = try await WebSocketPeer.joined(node, home: "old.example:1")
            try await watcher.expect("nodeDiscovered")
            try await client.auth("new.example:2")
            #expect(try await watcher.expect("nodeLeft").content.nodeIp == "old.example:1")
            #expect(try await watcher.expect("nodeDiscovered").content.nodeIp == "new.example:2")
            #expect(try await client.expect("nodeConnected").content.nodeIp == node.name)
            #expect(try await client.expect("nodeList").content.nodeList == ["new.example:2"])
            #expect(try await peerNames(node) == ["new.example:2"])
            // The old name is free again: a client claiming it is announced afresh.
            _ = try await WebSocketPeer.joined(node, home: "old.example:1")
            #expect(try await watcher.expect("nodeDiscovered").content.nodeIp == "old.example:1")
        }
    }

    @Test func observersAreNotAnnouncedNorListed() async throws {
        try await withNode { node in
            let watcher = try await WebSocketPeer.joined(node, home: nil)
            let observer = try await WebSocketPeer.to(node)
            try await observer.send(#"{"type":"auth","content":{}}"#)
            let connected = try await observer.expect("nodeConnected")
            #expect(connected.content.nodeIp == node.name)
            #expect(connected.content.id?.count == 32)
            try await observer.expect("nodeList")
            #expect(try await peerNames(node) == [])
            // The watcher's next event is the next real home, not the observer.
            _ = try await WebSocketPeer.joined(node, home: "127.0.0.1:9")
            #expect(try await watcher.expect("nodeDiscovered").content.nodeIp == "127.0.0.1:9")
        }
    }

    @Test func aDroppedConnectionIsForgottenAndAnnouncedAsLeft() async throws {
        try await withNode { node in
            let watcher = try await WebSocketPeer.joined(node, home: nil)
            let client = try await WebSocketPeer.joined(node, home: "127.0.0.1:6000")
            try await watcher.expect("nodeDiscovered")
            await client.abort()
            #expect(try await watcher.expect("nodeLeft").content.nodeIp == "127.0.0.1:6000")
        }
    }

    @Test func pingIsAnsweredWithPongOnBothLevels() async throws {
        try await withNode { node in
            let peer = try await WebSocketPeer.to(node)
            try await peer.send(#"{"type":"ping"}"#)
            try await peer.expect("pong")
        }
    }

    @Test func nodeListNamesEveryPeer() async throws {
        try await withNode { node in
            _ = try await WebSocketPeer.joined(node, home: "a.example:1")
            _ = try await WebSocketPeer.joined(node, home: "b.example:2")
            let late = try await WebSocketPeer.to(node)
            try await late.auth("c.example:3")
            try await late.expect("nodeConnected")
            #expect(try await late.expect("nodeList").content.nodeList == ["a.example:1", "b.example:2", "c.example:3"])
        }
    }
}
