import AshitaSystem
import AshitaTestSupport
import AshitaClient
import AshitaCore
import AshitaNode
import Foundation
import Testing

@Suite struct OperatorAndStartupTests {
    @Test func theTokenIsMadeOnceOwnerOnlyAndGrantsOperator() async throws {
        let dir = temporaryDirectory()
        let token = try await withNodes(1, dataDirectories: [dir]) { nodes in
            let node = nodes[0]
            let attributes = try FileManager.default.attributesOfItem(atPath: node.dataDirectory.tokenPath)
            #expect((attributes[.posixPermissions] as? Int) == 0o600)
            let token = try String(contentsOfFile: node.dataDirectory.tokenPath, encoding: .utf8).trimmingCharacters(in: .newlines)
            #expect(OperatorToken.isWellFormed(token))

            let operatorPeer = try await WebSocketPeer.to(node)
            try await operatorPeer.auth(nil, token: token)
            try await operatorPeer.expect("nodeConnected")
            try await operatorPeer.expect("nodeList")
            #expect(try await operatorPeer.expect("nodeOperatorConnected").content.nodeIp == node.name)

            let intruder = try await WebSocketPeer.to(node)
            try await intruder.auth("127.0.0.1:6666", token: String(repeating: "0", count: 64))
            let refused = try await intruder.expect("error")
            #expect(refused.content.code == "unauthorized")
            #expect(refused.content.message == "operator token rejected")
            #expect(try await peerNames(node) == [], "a refused auth registers nothing")
            return token
        }
        // The same data directory keeps the same token and id.
        try await withNodes(1, dataDirectories: [dir]) { nodes in
            let again = try String(contentsOfFile: nodes[0].dataDirectory.tokenPath, encoding: .utf8).trimmingCharacters(in: .newlines)
            #expect(again == token)
        }
    }

    @Test func aCorruptTokenFileStopsStartUpNamingTheFile() async throws {
        let dir = temporaryDirectory()
        try writeFile("\(dir)/operator-token", "not a token\n")
        do {
            _ = try await NodeServer.start(
                NodeConfiguration(host: "127.0.0.1", port: 0, dataDirectory: DataDirectory(path: dir)), logger: testLogger)
            Issue.record("started with a corrupt token file")
        } catch let error as FileError {
            #expect(error.file == "\(dir)/operator-token")
            #expect(error.description.contains("delete it to have a new one made"))
        }
        #expect(try String(contentsOfFile: "\(dir)/operator-token", encoding: .utf8) == "not a token\n", "never replaced silently")
    }

    @Test func aBusyPortIsAClearErrorNotACrash() async throws {
        try await withNode { node in
            do {
                _ = try await NodeServer.start(
                    NodeConfiguration(host: "127.0.0.1", port: node.localPort, dataDirectory: DataDirectory(path: temporaryDirectory())),
                    logger: testLogger)
                Issue.record("a second node bound a busy port")
            } catch let error as NodeStartError {
                #expect(error.description.hasPrefix("cannot listen on 127.0.0.1:\(node.localPort): address already in use"))
            }
            #expect(try await CurlHTTPClient().get("\(node.url)/healthz").status == 200, "the first node is unharmed")
        }
    }

    /// Shutdown waits on no HTTP connection: one kept alive after its answer (its header timeout an hour, so only
    /// the shutdown can end it) and an event stream are closed, and the node's `run` returns.
    @Test func shutdownClosesIdleHTTPConnectionsAndEventStreams() async throws {
        let connections = try await within(20, "the node to shut down with HTTP connections open") {
            try await withNode(configure: { $0.limits.headerTimeout = .seconds(3600) }) { node in
                let idle = try #require(RawConnection(port: node.localPort))
                #expect(idle.send("GET /healthz HTTP/1.1\r\nHost: node\r\n\r\n"))
                #expect(idle.readHead()?.hasPrefix("HTTP/1.1 200") == true)
                let stream = try #require(RawConnection(port: node.localPort))
                #expect(stream.send("GET /api/v1/events HTTP/1.1\r\nHost: node\r\n\r\n"))
                #expect(stream.readHead()?.hasPrefix("HTTP/1.1 200") == true)
                return [idle, stream]
            }
        }
        for connection in connections {
            #expect(await onDedicatedThread { connection.waitForPeerClose(seconds: 5) })
        }
    }

    @Test func shutdownClosesEveryClientWith1001() async throws {
        let peers = try await withNode { node in
            [try await WebSocketPeer.joined(node, home: nil), try await WebSocketPeer.joined(node, home: "127.0.0.1:1")]
        }
        for peer in peers {
            try await peer.expectClose(.goingAway)
        }
    }
}
