import AshitaTestSupport
import AshitaClient
import Foundation
import Testing

@Suite struct ConnectCommandTests {
    @Test func followsDiscoveryToAThirdNodeAndLeavesCleanlyOnSIGINT() async throws {
        try await withServedNodes(3) { nodes in
            let (a, b, c) = (nodes[0], nodes[1], nodes[2])
            // A knows B: a client of A calls B its home, so A's nodeList names B.
            let fromB = try await a.join(home: b.address)
            let watcherOnC = try await c.join(home: nil)
            let connect = try AshitaProcess(["connect", a.address, "--node", "127.0.0.1:5555", "--json"])
            var lines: [[String: Any]] = []
            func read(until done: ([[String: Any]]) -> Bool) async throws {
                while !done(lines), let line = try await connect.nextLine() { lines.append(try jsonObject(line)) }
            }
            func from(_ node: ServedNode, _ type: String) -> ([[String: Any]]) -> Bool {
                { $0.contains { $0["from"] as? String == node.address && $0["type"] as? String == type } }
            }
            try await read(until: from(b, "nodeConnected"))
            let first = try #require(lines.first)
            #expect(first["from"] as? String == a.address)
            #expect(first["type"] as? String == "nodeConnected")
            #expect((first["content"] as? [String: Any])?["nodeIp"] as? String == a.address)
            #expect(lines.contains { $0["type"] as? String == "nodeList" && (($0["content"] as? [String: Any])?["nodeList"] as? [String])?.contains(b.address) == true })

            // C joins A's view later: a client of A announces C; connect follows the nodeDiscovered to C.
            _ = try await a.join(home: c.address)
            try await read(until: from(c, "nodeConnected"))
            #expect(lines.contains { $0["from"] as? String == a.address && $0["type"] as? String == "nodeDiscovered" && ($0["content"] as? [String: Any])?["nodeIp"] as? String == c.address })
            // On C, this client was announced under its home.
            #expect(try await watcherOnC.expect("nodeDiscovered").content.nodeIp == "127.0.0.1:5555")

            connect.signal(SIGINT)
            #expect(try await connect.exitStatus() == 0)
            // Its sockets closed with a close frame, so C announces the home gone at once.
            #expect(try await watcherOnC.expect("nodeLeft").content.nodeIp == "127.0.0.1:5555")
            let stderr = try await connect.stderr()
            #expect(stderr.contains("ashita: connected to \(a.address)"))
            #expect(stderr.contains("ashita: connected to \(c.address)"))
            await fromB.close()
        }
    }

    @Test func onceprintsTheGreetingAndExits() async throws {
        try await withServedNodes(1) { nodes in
            let node = nodes[0]
            _ = try await node.join(home: "127.0.0.1:7001")
            let result = try await ashita("connect", node.address, "--once")
            #expect(result.status == 0)
            let lines = result.stdout.split(separator: "\n").map(String.init)
            #expect(lines.count == 2)
            #expect(lines[0].hasPrefix("\(node.address)  nodeConnected           \(node.address) id "))
            #expect(lines[1] == "\(node.address)  nodeList                127.0.0.1:7001")
            let json = try await ashita("connect", node.address, "--once", "--json", "--node", "127.0.0.1:7002")
            let objects = try json.stdout.split(separator: "\n").map { try jsonObject(String($0)) }
            #expect(objects.map { $0["type"] as? String } == ["nodeConnected", "nodeList"])
            #expect((objects[1]["content"] as? [String: Any])?["nodeList"] as? [String] == ["127.0.0.1:7001", "127.0.0.1:7002"])
        }
    }

    /// `--timeout` takes fractions of a second everywhere: the handshake's watchdog once used whole seconds, so
    /// `--timeout 0.5` gave up at once (exit 69) against a node that answers.
    @Test func aTimeoutUnderASecondIsHonouredNotTruncated() async throws {
        try await withServedNodes(1) { nodes in
            let node = nodes[0]
            let connect = try await ashita("connect", node.address, "--once", "--timeout", "0.5", "--json")
            #expect(connect.status == 0, "\(connect.stderr)")
            #expect(connect.stdout.contains("nodeConnected"))
            let peers = try await ashita("peers", node.address, "--timeout", "0.5", "--json")
            #expect(peers.status == 0, "\(peers.stderr)")
            // The node holds the connect above as events: replayed, one is enough.
            let watch = try await ashita("watch", node.address, "--timeout", "0.5", "--replay", "--count", "1", "--json")
            #expect(watch.status == 0, "\(watch.stderr)")
        }
    }

    @Test func noFollowStaysOnOneNode() async throws {
        try await withServedNodes(2) { nodes in
            let (a, b) = (nodes[0], nodes[1])
            let watcherOnB = try await b.join(home: nil)
            _ = try await a.join(home: b.address)
            // A following client beside it, started after it: when B hears of the follower, the non-follower has
            // long had the same nodeList and, were it following, would have come to B first.
            let connect = try AshitaProcess(["connect", a.address, "--no-follow", "--node", "127.0.0.1:5556", "--json"])
            let greeting = try #require(try await connect.nextLine())
            #expect(try jsonObject(greeting)["type"] as? String == "nodeConnected")
            #expect(try jsonObject(try #require(try await connect.nextLine()))["type"] as? String == "nodeList")
            let follower = try AshitaProcess(["connect", a.address, "--node", "127.0.0.1:5558", "--json"])
            #expect(try await watcherOnB.expect("nodeDiscovered").content.nodeIp == "127.0.0.1:5558", "the non-follower reached B")
            for process in [connect, follower] {
                process.signal(SIGTERM)
                #expect(try await process.exitStatus() == 0)
            }
            // And B never heard of it later either: its watcher's next event is a newcomer's.
            _ = try await watcherOnB.expect("nodeLeft")
            _ = try await b.join(home: "127.0.0.1:5557")
            #expect(try await watcherOnB.expect("nodeDiscovered").content.nodeIp == "127.0.0.1:5557")
        }
    }

    @Test func aLostNodeIsRetriedWithBackoffAndRejoined() async throws {
        let node = try await ServedNode.start()
        let connect = try AshitaProcess(["connect", node.address, "--no-follow"])
        #expect(try await connect.nextLine()?.contains("nodeConnected") == true)
        #expect(try await connect.nextLine()?.contains("nodeList") == true)
        try await node.stop()
        // Gone: retried after 500 ms, refused, then after 1 s; back on the same port, it is rejoined.
        #expect(try await connect.nextErrorLine(containing: "retrying in 500ms") != nil)
        #expect(try await connect.nextErrorLine(containing: "retrying in 1s") != nil)
        let restarted = try await ServedNode.start(port: node.port, dataDirectory: node.dataDirectory)
        let greeting = try #require(try await connect.nextLine(), "no greeting after the node came back")
        #expect(greeting.contains("nodeConnected"))
        connect.signal(SIGINT)
        #expect(try await connect.exitStatus() == 0)
        let stderr = try await connect.stderr()
        #expect(stderr.contains("ashita: lost \(node.address)"), "\(stderr)")
        #expect(stderr.components(separatedBy: "ashita: connected to \(node.address)").count == 3, "connected twice: \(stderr)")
        try await restarted.stop()
    }

    /// An eclipse: announcements that would fill every socket with one node. A node announced under two names
    /// takes one socket, so a real third node is still followed with only three sockets to give.
    @Test func oneNodeUnderTwoNamesTakesOneSocket() async throws {
        let a = try await ServedNode.start(extra: [])
        let others = [try await ServedNode.start(), try await ServedNode.start()]
        let (e, r) = (others[0], others[1])
        do {
            let observer = try await a.join(home: nil)
            var announcers: [WebSocketPeer] = []
            for home in ["localhost:\(e.port)", e.address] { announcers.append(try await a.join(home: home)) }
            for _ in 0..<2 { _ = try await observer.expect("nodeDiscovered") }
            announcers.append(try await a.join(home: r.address))
            #expect(try await observer.expect("nodeDiscovered").content.nodeIp == r.address)

            let connect = try AshitaProcess(["connect", a.address, "--max-connections", "3", "--json"])
            var followedR = false
            while !followedR, let line = try await connect.nextLine() {
                let object = try jsonObject(line)
                followedR = object["from"] as? String == r.address && object["type"] as? String == "nodeConnected"
            }
            connect.signal(SIGINT)
            #expect(try await connect.exitStatus() == 0)
            #expect(followedR)
            let stderr = try await connect.stderr()
            #expect(stderr.contains("ashita: not following \(e.address): the same node as localhost:\(e.port)"), "\(stderr)")
            _ = announcers
        } catch {
            Issue.record(error)
        }
        for node in [a, e, r] { try await node.stop() }
    }
}
