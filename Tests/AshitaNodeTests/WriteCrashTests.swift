import AshitaClient
import AshitaCore
import AshitaNode
import AshitaSystem
import AshitaTestSupport
import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// `ashita serve` killed with SIGKILL in the middle of writing its state: every file is whole afterwards — the
/// old contents or the new, never half — and the next start works and cleans up what the write left.
@Suite struct WriteCrashTests {
    /// A large known-nodes file (each write of it takes a while), as the node itself writes them.
    private func plantKnownNodes(in dir: String) throws {
        var nodes: [String: [String: Any]] = [:]
        for i in 0..<1000 {
            let id = String(String(i).reversed()) + String(repeating: "q", count: 32 - String(i).count)
            nodes["filler-\(i).\(String(repeating: "f", count: 60)).example:\(1000 + i)"] = ["id": id, "tls": false, "seen": "2026-01-01T00:00:00.000Z"]
        }
        let data = try JSONSerialization.data(withJSONObject: ["version": 1, "nodes": nodes], options: [.prettyPrinted, .sortedKeys])
        try writeFile("\(dir)/known-nodes.json", String(decoding: data, as: UTF8.self) + "\n")
    }

    /// Waits (at most `seconds`) until a temporary file appears in `dir`: a write in flight. Blocking; it looks
    /// as fast as it can, since a write lasts milliseconds.
    private static func waitForWriteInFlight(in dir: String, seconds: Double) -> Bool {
        let deadline = ContinuousClock.now + .milliseconds(Int(seconds * 1000))
        while ContinuousClock.now < deadline {
            guard let directory = opendir(dir) else { return false }
            defer { closedir(directory) }
            while let entry = readdir(directory) {
                let name = withUnsafeBytes(of: entry.pointee.d_name) { String(cString: $0.bindMemory(to: CChar.self).baseAddress!) }
                if name.contains(".tmp-") { return true }
            }
        }
        return false
    }

    @Test func killedWhileWritingStateLeavesEveryFileWhole() async throws {
        let dir = temporaryDirectory()
        try plantKnownNodes(in: dir)
        // Twenty nodes to check: each check found is a write of the ~400 KB file.
        let (caughtMidWrite, missed) = try await withNodes(20) { answerers in
            var caught = 0
            // What the node said in the first round whose kill came with no write in flight (CI saw all six miss
            // once, and could not tell why).
            var missed = ""
            for round in 0..<6 {
                let node = try ChildProcess(
                    ashitaExecutable, ["serve", "0", "--data-dir", dir, "--check-rate-per-host", "1000", "--max-checks", "20"],
                    standardError: .pipe)
                let out = node.standardOutput!
                let line = await onDedicatedThread { String(decoding: out.availableData, as: UTF8.self) }
                let port = try #require(line.firstMatch(of: /127\.0\.0\.1:(\d+) listening/).map { Int($0.1)! }, "\(line)")
                let token = try String(contentsOfFile: "\(dir)/operator-token", encoding: .utf8)
                let key = try String(contentsOfFile: "\(dir)/node-key", encoding: .utf8)
                // Announce every answerer, eight to a connection; kill the node as soon as a write is in flight.
                var announcers: [WebSocketPeer] = []
                for chunk in stride(from: 0, to: answerers.count, by: 8) {
                    let announcer = try await WebSocketPeer.local(port: port)
                    for answerer in answerers[chunk..<min(chunk + 8, answerers.count)] { try await announcer.auth(answerer.name) }
                    announcers.append(announcer)
                }
                let inFlight = await onDedicatedThread { Self.waitForWriteInFlight(in: dir, seconds: 10) }
                if inFlight { caught += 1 }
                node.signal(SIGKILL)
                _ = await node.status()
                let said = String(decoding: node.standardError!.readDataToEndOfFile(), as: UTF8.self)
                if !inFlight, missed.isEmpty { missed = "round \(round), the node's stderr: " + String(said.suffix(2_000)) }
                for announcer in announcers { await announcer.abort() }

                let text = try String(contentsOfFile: "\(dir)/known-nodes.json", encoding: .utf8)
                let file = try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any]
                let nodes = try #require(file?["nodes"] as? [String: Any], "round \(round): known-nodes.json is torn")
                #expect(nodes.count >= 1000, "round \(round): \(nodes.count) entries")
                #expect(try String(contentsOfFile: "\(dir)/operator-token", encoding: .utf8) == token)
                #expect(try String(contentsOfFile: "\(dir)/node-key", encoding: .utf8) == key)
            }
            return (caught, missed)
        }
        #expect(caughtMidWrite >= 3, "only \(caughtMidWrite) of 6 kills came while a write was in flight; \(missed)")
        // The next start takes the files as they are and removes what the killed writes left.
        try await withNodes(1, dataDirectories: [dir]) { _ in
            let leftovers = try FileManager.default.contentsOfDirectory(atPath: dir).filter { $0.contains(".tmp-") }
            #expect(leftovers.isEmpty, "\(leftovers)")
        }
    }
}
