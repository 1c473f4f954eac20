import AshitaClient
import AshitaCore
import AshitaTestSupport
import Foundation
import Testing

/// `ashita serve` killed with SIGKILL, again and again, at different moments: while it creates its files on
/// first start, and while it saves what verification found. Every file is whole afterwards, nothing once
/// saved is lost, and the next start works with the same identity.
@Suite struct CrashSafetyTests {
    static func contents(_ file: String) -> String? { try? String(contentsOfFile: file, encoding: .utf8) }

    @Test func killedDuringFirstStartLeavesWholeFilesOrNone() async throws {
        for round in 0..<8 {
            let dir = temporaryDirectory()
            let victim = try AshitaProcess(["serve", "0", "--data-dir", dir])
            // Killed at once, or after it has said it listens: before, during or after its first writes.
            if round % 2 == 1 { _ = try await victim.nextLine() }
            victim.signal(SIGKILL)
            _ = try await victim.exitStatus()
            for file in ["operator-token", "node-key"] {
                if let text = Self.contents("\(dir)/\(file)") {
                    #expect(text.count == 65 && text.hasSuffix("\n"), "round \(round): \(file) is torn: \(text.debugDescription)")
                }
            }
            // Whatever was left, the next start accepts it and keeps what was there.
            let token = Self.contents("\(dir)/operator-token")
            let node = try await ServedNode.start(dataDirectory: dir)
            if let token { #expect(Self.contents("\(dir)/operator-token") == token) }
            let leftovers = try FileManager.default.contentsOfDirectory(atPath: dir).filter { $0.contains(".tmp-") }
            #expect(leftovers.isEmpty, "round \(round): \(leftovers)")
            try await node.stop()
        }
    }

    @Test func killedWhileSavingKnownNodesLosesNothing() async throws {
        let peer = try await ServedNode.start()
        let peerID = try #require(try await getJSON("\(peer.url)/api/v1/node")["id"] as? String)
        let dir = temporaryDirectory()
        var identity: (token: String?, key: String?) = (nil, nil)
        var saved = false
        for round in 0..<10 {
            let victim = try await ServedNode.start(dataDirectory: dir, extra: [])
            if round == 0 {
                identity = (Self.contents("\(dir)/operator-token"), Self.contents("\(dir)/node-key"))
            }
            #expect(Self.contents("\(dir)/operator-token") == identity.token, "round \(round): token changed")
            #expect(Self.contents("\(dir)/node-key") == identity.key, "round \(round): identity changed")
            // An announcement of the peer: the node checks it and saves what it found. The first round stops
            // cleanly, which waits for the save; every later one is killed, at moments that vary.
            let observer = try await victim.join(home: nil)
            let announcer = try await victim.join(home: peer.address)
            if round % 2 == 0 {
                _ = try await within(10, "nodeDiscovered") { await observer.nextEvent() }
            }
            if round == 0 {
                try await victim.stop()
            } else {
                victim.process.signal(SIGKILL)
                _ = try await victim.process.exitStatus()
            }
            _ = announcer
            if let text = Self.contents("\(dir)/known-nodes.json") {
                let known = try JSONDecoder().decode(KnownNodesFile.self, from: Data(text.utf8))
                #expect(known.nodes[peer.address]?.id == peerID, "round \(round)")
                saved = true
            } else {
                Issue.record("round \(round): known-nodes.json is missing (round 0 stopped cleanly after saving)")
            }
        }
        #expect(saved, "ten rounds and the known nodes were never saved")
        try await peer.stop()
    }
}

/// `known-nodes.json` as a reader outside the node sees it.
private struct KnownNodesFile: Decodable {
    struct Entry: Decodable { var id: String }
    var nodes: [String: Entry]
}

func getJSON(_ url: String) async throws -> [String: Any] {
    let response = try await CurlHTTPClient().get(url)
    return try #require(try JSONSerialization.jsonObject(with: Data(response.body)) as? [String: Any])
}
