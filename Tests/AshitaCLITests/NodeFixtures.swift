import AshitaTestSupport
import AshitaClient
import Foundation
import Testing

/// A node run as `ashita serve` in its own process, with its own data directory.
struct ServedNode {
    let process: AshitaProcess
    let port: Int
    let dataDirectory: String
    var address: String { "127.0.0.1:\(port)" }
    var url: String { "http://\(address)" }
    var token: String {
        (try? String(contentsOfFile: "\(dataDirectory)/operator-token", encoding: .utf8))?.trimmingCharacters(in: .newlines) ?? ""
    }

    /// `port: 0` picks a free one; a given port and data directory restart a node where it was.
    /// Announcement checks are off unless `extra` is given (most tests announce homes where nothing runs).
    static func start(
        port: Int = 0, dataDirectory: String = temporaryDirectory(), extra: [String] = ["--no-verify-announcements"]
    ) async throws -> ServedNode {
        // A generous check timeout: a slow machine running the whole suite must not make a loopback check fail.
        // Likewise the auth deadline (10 s by default): on two cores busy starting the suite's processes, a test's
        // task has waited longer than that between its connect and its auth.
        let process = try AshitaProcess(
            ["serve", "\(port)", "--data-dir", dataDirectory, "--check-timeout", "20", "--auth-timeout", "120"] + extra)
        let line = try #require(try await process.nextLine(), "ashita serve printed nothing")
        let match = try #require(line.firstMatch(of: /127\.0\.0\.1:(\d+) listening/), "\(line)")
        return ServedNode(process: process, port: Int(match.1)!, dataDirectory: dataDirectory)
    }

    func stop() async throws {
        process.signal(SIGTERM)
        #expect(try await process.exitStatus() == 0)
    }

    /// A WebSocket client of this node that has sent auth with `home` and read its two answers.
    func join(home: String?) async throws -> WebSocketPeer {
        let peer = try await WebSocketPeer.local(port: port)
        let node = home.map { #","node":"\#($0)""# } ?? ""
        try await peer.send(#"{"type":"auth"\#(node),"content":{}}"#)
        _ = try await within(10, "nodeConnected") { await peer.nextEvent() }
        _ = try await within(10, "nodeList") { await peer.nextEvent() }
        return peer
    }
}

/// Nodes for one test, stopped (SIGTERM, exit 0 checked) when it ends.
func withServedNodes<T: Sendable>(_ count: Int, _ body: ([ServedNode]) async throws -> T) async throws -> T {
    var nodes: [ServedNode] = []
    for _ in 0..<count { nodes.append(try await ServedNode.start()) }
    do {
        let result = try await body(nodes)
        for node in nodes { try await node.stop() }
        return result
    } catch {
        for node in nodes { try? await node.stop() }
        throw error
    }
}

func jsonObject(_ line: String) throws -> [String: Any] {
    try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any], "not a JSON object: \(line)")
}
