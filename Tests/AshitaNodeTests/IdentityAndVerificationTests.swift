import AshitaClient
import AshitaCore
import AshitaNode
import AshitaSystem
import AshitaTestSupport
import Foundation
import Testing

/// Node identity (an Ed25519 key in the data directory), the directory's lock, and verified announcements.
@Suite struct IdentityAndVerificationTests {
    @Test func theIdComesFromTheKeyAndSurvivesRestarts() async throws {
        let dir = temporaryDirectory()
        let (id, publicKey) = try await withNodes(1, dataDirectories: [dir]) { nodes in
            let status = try await getJSON("\(nodes[0].url)/api/v1/node")
            let peer = try await WebSocketPeer.to(nodes[0])
            try await peer.auth(nil)
            #expect(try await peer.expect("nodeConnected").content.id == nodes[0].id)
            return (try #require(status["id"] as? String), try #require(status["publicKey"] as? String))
        }
        #expect(id.count == 32 && Base32.isEncoding(id))
        let key = try #require(Hex.decode(publicKey))
        #expect(Base32.encode(NodeKey.sha256(key).prefix(20)) == id)
        let attributes = try FileManager.default.attributesOfItem(atPath: "\(dir)/node-key")
        #expect((attributes[.posixPermissions] as? Int) == 0o600)
        try await withNodes(1, dataDirectories: [dir]) { nodes in
            #expect(nodes[0].id == id)
        }
    }

    @Test func theNodeProvesItsIdBySigningAChallenge() async throws {
        try await withNode { node in
            let status = try JSONDecoder().decode(
                NodeStatus.self, from: Data(try await CurlHTTPClient().get("\(node.url)/api/v1/node?challenge=abc-123").body))
            let key = try #require(status.publicKey.flatMap(Hex.decode))
            let signature = try #require(status.signature.flatMap(Hex.decode))
            #expect(status.challenge == "abc-123")
            #expect(NodeKey.isValidSignature(signature, of: NodeKey.challengeMessage("abc-123"), publicKey: key))
            #expect(!NodeKey.isValidSignature(signature, of: NodeKey.challengeMessage("abc-124"), publicKey: key))
            #expect(try await CurlHTTPClient().get("\(node.url)/api/v1/node?challenge=%00%01").status == 400)
        }
    }

    @Test func aDamagedKeyStopsStartUpAndIsNeverReplaced() async throws {
        let dir = temporaryDirectory()
        try writeFile("\(dir)/node-key", "0123\n")
        let error = await #expect(throws: FileError.self) {
            _ = try await NodeServer.start(
                NodeConfiguration(host: "127.0.0.1", port: 0, dataDirectory: DataDirectory(path: dir)), logger: testLogger)
        }
        #expect(error?.file == "\(dir)/node-key")
        #expect(error?.description.contains("new identity") == true)
        #expect(try String(contentsOfFile: "\(dir)/node-key", encoding: .utf8) == "0123\n")
    }

    @Test func aSecondNodeOnTheSameDataDirectoryIsRefused() async throws {
        let dir = temporaryDirectory()
        let refusal: String = try await withNodes(1, dataDirectories: [dir]) { nodes in
            var message = ""
            do {
                _ = try await NodeServer.start(
                    NodeConfiguration(host: "127.0.0.1", port: 0, dataDirectory: DataDirectory(path: dir)), logger: testLogger)
            } catch {
                message = "\(error)"
            }
            let status = try? await CurlHTTPClient().get("\(nodes[0].url)/healthz").status
            #expect(status == 200)
            return message
        }
        #expect(refusal.contains("is in use by another running node (pid \(getpid()))"), "\(refusal)")
        // Once the first has stopped, the directory is free again.
        try await withNodes(1, dataDirectories: [dir]) { _ in }
    }

    @Test func aHomeIsRelayedOnlyOnceAnAshitaNodeAnswersThere() async throws {
        let notAshita = try PlainHTTPServer(response: "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
        defer { notAshita.stop() }
        let (knownNodesFile, otherID) = try await withNodes(2, configure: { $0.limits.verifyAnnouncements = true }) { nodes in
            let (node, other) = (nodes[0], nodes[1])
            let observer = try await WebSocketPeer.joined(node, home: nil)
            let events = try await EventSubscription(node, types: "nodeDiscovered,nodeUnverified")

            // An impostor replays the other node's document, id and public key included, but cannot sign.
            let replayed = try await CurlHTTPClient().get("\(other.url)/api/v1/node?challenge=old").text
            let impostor = try PlainHTTPServer(
                response: "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: \(replayed.utf8.count)\r\n\r\n\(replayed)")
            defer { impostor.stop() }
            // Nothing listens on port 1; a web server that is not ashita answers on the other.
            for home in ["127.0.0.1:1", "127.0.0.1:\(notAshita.port)", "127.0.0.1:\(impostor.port)"] {
                let liar = try await WebSocketPeer.to(node)
                try await liar.auth(home)
                try await liar.expect("nodeConnected")
                try await liar.expect("nodeList")
                let refusal = try await liar.expect("error")
                #expect(refusal.content.code == "unverified")
                #expect(try await events.next()?.event == "nodeUnverified")
            }
            // A real node: announced, with the id found there.
            let honest = try await WebSocketPeer.to(node)
            try await honest.auth(other.name)
            let discovered = try await observer.expect("nodeDiscovered")
            #expect(discovered.content.nodeIp == other.name)
            #expect(discovered.content.id == other.id)
            #expect(discovered.content.tls == false)
            #expect(try await events.next()?.event == "nodeDiscovered")

            // The public list has the verified peer only; the operator sees all three.
            #expect(try await peerNames(node) == [other.name])
            let token = try String(contentsOfFile: node.dataDirectory.tokenPath, encoding: .utf8).trimmingCharacters(in: .newlines)
            let all = try await CurlHTTPClient().get("\(node.url)/api/v1/peers?all=1", headers: ["Authorization: Bearer \(token)"])
            let document = try JSONDecoder().decode(PeerList.self, from: Data(all.body))
            #expect(document.peers.map(\.status) == ["unverified", "unverified", "unverified", "verified"])
            #expect(try await CurlHTTPClient().get("\(node.url)/api/v1/peers?all=1").status == 401)

            return (node.dataDirectory.knownNodesPath, other.id)
        }
        // What verification found is kept for the next start (a shutdown waits for it to be written).
        let known = try String(contentsOfFile: knownNodesFile, encoding: .utf8)
        #expect(known.contains(otherID))
    }

    @Test func oneConnectionCannotAnnounceEndlessHomes() async throws {
        try await withNode(configure: { $0.limits.maxAnnouncementsPerClient = 2 }) { node in
            let peer = try await WebSocketPeer.to(node)
            for port in 7001...7002 {
                try await peer.auth("127.0.0.1:\(port)")
                try await peer.expect("nodeConnected")
                try await peer.expect("nodeList")
            }
            try await peer.auth("127.0.0.1:7003")
            #expect(try await peer.expect("error").content.code == "rate-limited")
            #expect(try await peerNames(node) == ["127.0.0.1:7002"])
        }
    }
}
