import AshitaClient
import AshitaCore
@testable import AshitaNode
import AshitaSystem
import AshitaTestSupport
import Foundation
import Testing

/// Links between real nodes on 127.0.0.1: they greet each other with their keys, learn the whole mesh through
/// each other, and tell it in their journals; a stranger on the link path gets nowhere.
@Suite struct MeshLinkTests {
    /// Member events from a node's journal, as (type, id), until `count` have come.
    static func memberEvents(
        _ stream: AsyncThrowingStream<ServerSentEventParser.Item, any Error>, count: Int
    ) async throws -> [(String, String)] {
        try await within(20, "\(count) member events") {
            var seen: [(String, String)] = []
            for try await item in stream {
                guard case .event(let event) = item,
                    let object = try? JSONSerialization.jsonObject(with: Data(event.data.utf8)) as? [String: Any],
                    let content = object["content"] as? [String: Any], let id = content["id"] as? String
                else { continue }
                seen.append((event.event ?? "", id))
                if seen.count == count { break }
            }
            return seen
        }
    }

    static func opened(_ url: String) async throws -> AsyncThrowingStream<ServerSentEventParser.Item, any Error> {
        let stream = EventStreamReader.open(url)
        // Open once its preamble comment arrives: nothing after that is missed.
        _ = try await within { () -> Bool in
            for try await item in stream { if case .comment = item { return true } }
            return false
        }
        return stream
    }

    @Test func nodesThatJoinOneAnotherLearnTheWholeMeshAndSeeALeave() async throws {
        try await withNodes(3) { nodes in
            let streams = try await withThrowingTaskGroup(of: (Int, AsyncThrowingStream<ServerSentEventParser.Item, any Error>).self) { group in
                for (index, node) in nodes.enumerated() {
                    group.addTask { (index, try await Self.opened("\(node.url)/api/v1/events?types=memberJoined,memberLeft")) }
                }
                var streams: [Int: AsyncThrowingStream<ServerSentEventParser.Item, any Error>] = [:]
                for try await (index, stream) in group { streams[index] = stream }
                return streams
            }
            // A chain: 1 joins 0, 2 joins 1. Each hears of both others all the same.
            await nodes[1].join([nodes[0].address])
            await nodes[2].join([nodes[1].address])
            for (index, node) in nodes.enumerated() {
                let others = Set(nodes.map(\.id)).subtracting([node.id])
                let joined = try await Self.memberEvents(streams[index]!, count: 2)
                #expect(joined.allSatisfy { $0.0 == "memberJoined" })
                #expect(Set(joined.map(\.1)) == others)
                let members = await node.members()
                #expect(members.members.count == 3)
                #expect(members.members.allSatisfy { $0.state == "alive" })
                #expect(members.links >= 1)
            }
            // Node 2 leaves: the others hear it, signed by node 2 itself.
            await nodes[2].shutdown()
            for index in 0..<2 {
                let left = try await Self.memberEvents(streams[index]!, count: 1)
                #expect(left.map(\.0) == ["memberLeft"])
                #expect(left.map(\.1) == [nodes[2].id])
            }
            let document = try await getJSON("\(nodes[0].url)/api/v1/members")
            let states = (document["members"] as? [[String: Any]] ?? []).compactMap { $0["state"] as? String }.sorted()
            #expect(states == ["alive", "alive", "left"])
        }
    }

    @Test func aStrangerOnTheLinkPathIsClosedAtItsFirstWrongWord() async throws {
        try await withNode { node in
            for greeting in [
                "not json", #"{"type":"ping","seq":1}"#, #"{"type":"proof","answer":"00"}"#,
                #"{"type":"hello","challenge":"00","isolated":false,"record":{}}"#,
            ] {
                let peer = try await WebSocketPeer.local(port: node.localPort, path: "/api/v1/link")
                try await peer.send(greeting)
                try await peer.expectClose(CloseReason(code: 1008, reason: "greeting failed"))
            }
            // The node is none the worse.
            #expect(try await peerNames(node) == [])
            #expect(await node.members().members.count == 1)
        }
    }

    /// A raw socket that dials the node's link path and greets it as a node with a key of its own (blocking: call
    /// on a thread of its own). Nil when the upgrade or the greeting fails.
    static func greetedLink(port: Int) -> RawConnection? {
        guard let connection = RawConnection(port: port, receiveTimeoutSeconds: 10),
            connection.send(RawConnection.upgradeRequest.replacingOccurrences(of: "GET / ", with: "GET \(LinkDialer.path) ")),
            connection.readHead()?.hasPrefix("HTTP/1.1 101") == true, let address = try? NodeAddress(parsing: "127.0.0.1:9")
        else { return nil }
        let signing = NodeSigning(key: .generate())
        var own = MemberRecord(
            id: signing.key.id, key: signing.publicKey, address: address, incarnation: 1, state: .alive, signer: signing.key.id)
        own.signature = signing.sign(own.signedBytes)
        var handshake = LinkHandshake(
            role: .dialer, own: own, signing: signing, challenge: [UInt8](repeating: 7, count: LinkGreeting.challengeBytes))
        guard let opening = handshake.opening, connection.send(RawConnection.maskedFrame(opcode: 0x1, payload: opening.encoded())),
            let hello = connection.readFrame(), case .established(_, _, let proof?) = handshake.receive(hello.payload),
            connection.send(RawConnection.maskedFrame(opcode: 0x1, payload: proof.encoded()))
        else { return nil }
        return connection
    }

    /// A link the node accepted, on which the other end then says nothing, gets heartbeats from the node: empty
    /// unsolicited pongs, so that the other end's kernel always has data to acknowledge and a cut path shows as
    /// TCP resends. (Raw socket, as a dialling node: the greeting signed with a key of the test's own.)
    @Test func aQuietLinkGetsEmptyPongsAsHeartbeats() async throws {
        try await withNode { node in
            let port = node.localPort
            // Blocking reads, on a thread of their own rather than the tests' pool.
            let outcome = await onDedicatedThread { () -> String in
                guard let connection = Self.greetedLink(port: port) else { return "no link" }
                // Whatever the node sends first (its table, a ping), a pong comes while this end is quiet.
                var opcodes: [UInt8] = []
                while opcodes.count < 100, let frame = connection.readFrame() {
                    opcodes.append(frame.opcode)
                    if frame.opcode == 0xA { return frame.payload.isEmpty ? "an empty pong" : "a pong of \(frame.payload.count) bytes" }
                }
                return "no heartbeat; opcodes: \(opcodes)"
            }
            #expect(outcome == "an empty pong")
        }
    }

    /// A linked node that sends 20 `have` lists at once (each an empty one: "send me everything") gets the table
    /// at most twice — once a half sync interval, twice in one where the node offered its own list, as it did
    /// when the link opened — and the rest are dropped and counted. A ping behind them is still answered, so all
    /// were read. (Raw socket.)
    @Test func aLinkSendingHaveListsNonstopGetsTheTableAtMostTwice() async throws {
        try await withNode { node in
            let port = node.localPort
            let tables = await onDedicatedThread { () -> Int? in
                guard let connection = Self.greetedLink(port: port) else { return nil }
                for _ in 0..<20 {
                    _ = connection.send(RawConnection.maskedFrame(opcode: 0x1, payload: LinkMessage.have(members: [], reply: false).encoded()))
                }
                _ = connection.send(RawConnection.maskedFrame(opcode: 0x1, payload: LinkMessage.ping(seq: 77).encoded()))
                var tables = 0
                for _ in 0..<200 {
                    guard let frame = connection.readFrame() else { return nil }
                    guard frame.opcode == 0x1, case .success(let message) = LinkMessage.decode(frame.payload) else { continue }
                    if case .gossip(0, _) = message { tables += 1 }
                    if message == .ack(seq: 77) { return tables }
                }
                return nil
            }
            // Twice here; once if the machine took more than half a sync interval between the greeting and the lists.
            #expect(tables.map { (1...2).contains($0) } == true, "the table came \(tables.map(String.init) ?? "never, or no ack")")
        }
    }

    /// Link greetings beyond a greeting rate are closed with 1013 before the node signs anything; the ones within
    /// it are greeted as ever. Either bound alone does it: one address's (1 a second, 2 at once) or that of all
    /// addresses together (the same numbers, the address's own much larger); exactly two greetings are answered,
    /// the next three get 1013. The node's wall clock stands still, so no token comes back meanwhile. (Raw
    /// sockets: the close comes right behind the 101.)
    @Test(arguments: [(own: 1, all: 1_000), (own: 1_000, all: 1)])
    func linkGreetingsAreRateBound(_ rates: (own: Int, all: Int)) async throws {
        try await withNode(configure: {
            $0.membership.greetingRate = rates.own
            $0.membership.greetingBurst = rates.own == 1 ? 2 : 1_000
            $0.membership.greetingRateAll = rates.all
            $0.membership.greetingBurstAll = rates.all == 1 ? 2 : 1_000
            $0.clock = NodeClock(wall: { Timestamp(milliseconds: 1_800_000_000_000) }, monotonic: NodeClock.system.monotonic)
        }) { node in
            let port = node.localPort
            let request =
                "GET /api/v1/link HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                + "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
            func linkAttempt() async throws -> RawConnection {
                let connection = await onDedicatedThread { () -> RawConnection? in
                    guard let connection = RawConnection(port: port), connection.send(request),
                        connection.readHead()?.hasPrefix("HTTP/1.1 101") == true
                    else { return nil }
                    return connection
                }
                return try #require(connection, "no 101 for a link attempt")
            }
            var admitted: [RawConnection] = []
            for _ in 0..<2 { admitted.append(try await linkAttempt()) }
            for _ in 0..<3 {
                let attempt = try await linkAttempt()
                let close = await onDedicatedThread { attempt.readUntilCloseFrame() }
                #expect(close?.code == 1013 && close?.reason == "too many link greetings; try again later", "\(String(describing: close))")
            }
            for connection in admitted {
                let close = await onDedicatedThread {
                    _ = connection.send(RawConnection.frame(opcode: 0x1, payload: Array("not json".utf8)))
                    return connection.readUntilCloseFrame()
                }
                #expect(close?.code == 1008)
            }
            #expect(await node.members().members.count == 1)
        }
    }

    @Test func theOperatorJoinsANodeToTheMeshOverTheAPI() async throws {
        try await withNodes(2) { nodes in
            let events = try await Self.opened("\(nodes[0].url)/api/v1/events?types=memberJoined")
            let token = try String(contentsOfFile: nodes[1].dataDirectory.tokenPath, encoding: .utf8)
                .trimmingCharacters(in: .whitespacesAndNewlines)
            let url = "\(nodes[1].url)/api/v1/join?node=\(nodes[0].address)"
            #expect(try await CurlHTTPClient().post(url).status == 401)
            let answer = try await CurlHTTPClient().post(url, headers: ["Authorization: Bearer \(token)"])
            #expect(answer.status == 202)
            #expect(String(decoding: answer.body, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines) == #"{"joining":"\#(nodes[0].address)"}"#)
            let joined = try await Self.memberEvents(events, count: 1)
            #expect(joined.map(\.1) == [nodes[1].id])
        }
    }

    @Test func aNodeRestartedWithoutJoinRejoinsWhereTheMembersWere() async throws {
        let directory = temporaryDirectory()
        try await withNodes(1) { first in
            let events = try await Self.opened("\(first[0].url)/api/v1/events?types=memberJoined,memberLeft")
            let id = try await withNodes(1, dataDirectories: [directory]) { second in
                await second[0].join([first[0].address])
                let joined = try await Self.memberEvents(events, count: 1)
                #expect(joined.map(\.0) == ["memberJoined"])
                return second[0].id
            }
            let left = try await Self.memberEvents(events, count: 1)
            #expect(left.map(\.0) == ["memberLeft"])
            #expect(FileManager.default.fileExists(atPath: "\(directory)/members.json"))
            // Started again with no --join, it comes back by itself, from the members it saved.
            let back = try await withNodes(1, dataDirectories: [directory]) { _ in try await Self.memberEvents(events, count: 1) }
            #expect(back.map(\.0) == ["memberJoined"])
            #expect(back.map(\.1) == [id])
        }
    }

    @Test func clientsOfAnyNodeHearOfEveryMemberAndOfItsLeaving() async throws {
        try await withNodes(3) { nodes in
            // An observer on the last node, before any link exists.
            let observer = try await WebSocketPeer.joined(nodes[2], home: nil)
            await nodes[1].join([nodes[0].address])
            await nodes[2].join([nodes[1].address])
            var discovered: [String: String] = [:]
            for _ in 0..<2 {
                let event = try await observer.expect("nodeDiscovered")
                discovered[try #require(event.content.nodeIp)] = event.content.id
            }
            #expect(discovered == [nodes[0].name: nodes[0].id, nodes[1].name: nodes[1].id])
            // A client arriving later finds them in its nodeList.
            let late = try await WebSocketPeer.to(nodes[2])
            try await late.auth(nil)
            try await late.expect("nodeConnected")
            let list = try await late.expect("nodeList")
            #expect(Set(list.content.nodeList ?? []) == [nodes[0].name, nodes[1].name])
            // Node 0 leaves the mesh: the observer hears nodeLeft.
            await nodes[0].shutdown()
            let left = try await observer.expect("nodeLeft")
            #expect(left.content.nodeIp == nodes[0].name)
            await observer.close()
            await late.close()
        }
    }
}
