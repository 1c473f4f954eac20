import AshitaTestSupport
import AshitaClient
import Foundation
import Testing

@Suite struct WatchCommandTests {
    @Test func printsEachEventOnceInTextAndNDJSON() async throws {
        try await withServedNodes(1) { nodes in
            let node = nodes[0]
            let peer = try await node.join(home: "w.example:1")
            await peer.close()
            let watch = try AshitaProcess(["watch", node.address, "--replay", "--json", "--types", "nodeDiscovered,nodeLeft", "--count", "2"])
            var lines: [String] = []
            while let line = try await watch.nextLine() { lines.append(line) }
            #expect(try await watch.exitStatus() == 0)
            let objects = try lines.map(jsonObject)
            #expect(objects.map { $0["type"] as? String } == ["nodeDiscovered", "nodeLeft"])
            #expect(objects.allSatisfy { $0["id"] is String && $0["time"] is String && ($0["content"] as? [String: String])?["nodeIp"] == "w.example:1" })

            // For people, the local time (TZ respected) with its zone named; JSON keeps UTC.
            let text = try await ashita(["watch", node.address, "--replay", "--types", "nodeDiscovered", "--count", "1"], environment: ["TZ": "JST-9"])
            #expect(text.status == 0)
            let utc = try #require(objects.first?["time"] as? String)
            let hour = (Int(utc.dropFirst(11).prefix(2))! + 9) % 24
            let expected = String(format: "%02d", hour) + utc.dropFirst(13).prefix(6) + " JST  nodeDiscovered          w.example:1\n"
            #expect(text.stdout == expected, "UTC \(utc)")
            #expect(text.stderr.isEmpty)
        }
    }

    @Test func followsLiveEventsAfterWhatItReplays() async throws {
        try await withServedNodes(1) { nodes in
            let node = nodes[0]
            await (try await node.join(home: "first.example:1")).abort()
            let watch = try AshitaProcess(["watch", node.address, "--replay", "--json", "--types", "nodeDiscovered", "--count", "2"])
            let first = try #require(try await watch.nextLine())
            #expect((try jsonObject(first)["content"] as? [String: String])?["nodeIp"] == "first.example:1")
            // Subscribed now: what happens next arrives live.
            _ = try await node.join(home: "second.example:1")
            let second = try #require(try await watch.nextLine())
            #expect((try jsonObject(second)["content"] as? [String: String])?["nodeIp"] == "second.example:1")
            #expect(try await watch.exitStatus() == 0)
        }
    }

    @Test func survivesANodeRestartWithoutDuplicates() async throws {
        let node = try await ServedNode.start()
        _ = try await node.join(home: "before.example:1")
        let watch = try AshitaProcess(["watch", node.address, "--replay", "--json", "--types", "nodeDiscovered", "--count", "3"])
        var seen = [try jsonObject(try #require(try await watch.nextLine()))]
        try await node.stop()
        let restarted = try await ServedNode.start(port: node.port, dataDirectory: node.dataDirectory)
        for name in ["after1.example:1", "after2.example:1"] {
            _ = try await restarted.join(home: name)
        }
        while seen.count < 3, let line = try await watch.nextLine() { seen.append(try jsonObject(line)) }
        #expect(try await watch.exitStatus() == 0)
        let ids = seen.compactMap { $0["id"] as? String }
        #expect(Set(ids).count == 3, "no event printed twice: \(ids)")
        let homes = seen.compactMap { ($0["content"] as? [String: String])?["nodeIp"] }
        #expect(homes == ["before.example:1", "after1.example:1", "after2.example:1"])
        let stderr = try await watch.stderr()
        #expect(stderr.contains("ashita: lost \(node.address)") || stderr.contains("ended the event stream"), "\(stderr)")
        #expect(stderr.contains("ashita: reconnected to \(node.address)"))
        #expect(stderr.contains("restarted"))
        try await restarted.stop()
    }

    /// A broken connection to the same, still running node (whose journal still holds every event): watch
    /// resumes after the last event it printed, and prints none twice and loses none.
    @Test func resumesOnTheSameNodeWithoutDuplicates() async throws {
        try await withServedNodes(1) { nodes in
            let node = nodes[0]
            let relay = try TCPRelay(to: node.port)
            defer { relay.stop() }
            // --replay: whether the first event comes before or after it subscribes, it prints it once.
            let watch = try AshitaProcess(["watch", "127.0.0.1:\(relay.port)", "--replay", "--json", "--types", "nodeDiscovered", "--count", "4"])
            var homes: [String] = []
            var printed: [[String: Any]] = []
            for i in 1...2 {
                homes.append("r\(i).example:1")
                _ = try await node.join(home: homes.last!)
                printed.append(try jsonObject(try #require(try await watch.nextLine())))
            }
            relay.cut()
            #expect(try await watch.nextErrorLine(containing: "reconnected") != nil)
            for i in 3...4 {
                homes.append("r\(i).example:1")
                _ = try await node.join(home: homes.last!)
                printed.append(try jsonObject(try #require(try await watch.nextLine())))
            }
            #expect(try await watch.exitStatus() == 0)
            #expect(printed.compactMap { ($0["content"] as? [String: String])?["nodeIp"] } == homes)
            #expect(Set(printed.compactMap { $0["id"] as? String }).count == 4)
        }
    }

    @Test func stopsCleanlyOnSIGINT() async throws {
        try await withServedNodes(1) { nodes in
            let peer = try await nodes[0].join(home: "s.example:1")
            let watch = try AshitaProcess(["watch", nodes[0].address, "--replay"])
            #expect(try await watch.nextLine() != nil)
            watch.signal(SIGINT)
            #expect(try await watch.exitStatus() == 0)
            await peer.close()
        }
    }
}
