import AshitaTestSupport
import Foundation
import Testing

/// The README's script example, run as a user would: `ashita` on the PATH.
@Suite struct ScriptExampleTests {
    static let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("examples/wait-for-peers.sh").path

    private func run(_ arguments: [String]) async throws -> (status: Int32, stdout: String, stderr: String) {
        var env = ProcessInfo.processInfo.environment
        env["PATH"] = URL(fileURLWithPath: ashitaExecutable).deletingLastPathComponent().path + ":" + (env["PATH"] ?? "/usr/bin:/bin")
        return try await runToEnd("/bin/sh", [Self.script] + arguments, environment: env, limit: .seconds(60))
    }

    @Test func waitsForPeersThenPrintsThemAsJSON() async throws {
        try await withServedNodes(1) { nodes in
            let node = nodes[0]
            _ = try await node.join(home: "127.0.0.1:9001")
            _ = try await node.join(home: "127.0.0.1:9002")
            let result = try await run([node.address, "2"])
            #expect(result.status == 0, "\(result.stderr)")
            let peers = try #require(try jsonObject(result.stdout)["peers"] as? [[String: Any]])
            #expect(peers.compactMap { $0["node"] as? String } == ["127.0.0.1:9001", "127.0.0.1:9002"])
        }
    }

    @Test func passesOnAshitasExitStatusAndGivesUpInTime() async throws {
        let unreachable = try await run(["127.0.0.1:\(try await freePort())", "1"])
        #expect(unreachable.status == 69)
        try await withServedNodes(1) { nodes in
            let short = try await run([nodes[0].address, "1", "1"])
            #expect(short.status == 1)
            #expect(short.stderr == "wait-for-peers: \(nodes[0].address) has 0 of 1 peers after 1s\n")
        }
    }
}
