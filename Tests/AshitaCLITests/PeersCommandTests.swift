import AshitaTestSupport
import AshitaClient
import Foundation
import Testing

@Suite struct PeersCommandTests {
    @Test func aTableForPeopleAndTheNodesDocumentForScripts() async throws {
        try await withServedNodes(1) { nodes in
            let node = nodes[0]
            let empty = try await ashita("peers", node.address)
            #expect(empty.status == 0)
            // Nothing on stdout (`| wc -l` counts 0), and no note either: stderr is no terminal here.
            #expect(empty.stdout.isEmpty)
            #expect(empty.stderr.isEmpty)

            let client = try await node.join(home: "127.0.0.1:9000")
            let human = try await ashita("peers", node.address)
            #expect(human.status == 0)
            let lines = human.stdout.split(separator: "\n").map(String.init)
            #expect(lines.count == 2)
            #expect(lines[0] == "NODE            ID  SINCE   CLIENTS  DIRECTION")
            // No id: this node does not check announcements (the home runs no node).
            #expect(try #require(lines.last).wholeMatch(of: /127\.0\.0\.1:9000  -   \d+s ago  1        inbound/) != nil, "\(lines)")

            let json = try await ashita("peers", node.address, "--json")
            #expect(json.status == 0)
            let direct = try await CurlHTTPClient().get("\(node.url)/api/v1/peers")
            #expect(json.stdout == direct.text + (direct.text.hasSuffix("\n") ? "" : "\n"), "--json is the node's own document")
            let peers = try #require(try jsonObject(json.stdout)["peers"] as? [[String: Any]])
            #expect(peers.map { $0["node"] as? String } == ["127.0.0.1:9000"])
            await client.close()
        }
    }

    @Test func theNodeMayComeFromASHITA_NODE() async throws {
        try await withServedNodes(1) { nodes in
            let result = try await ashita(["peers", "--json"], environment: ["ASHITA_NODE": nodes[0].address])
            #expect(result.status == 0)
            #expect(try jsonObject(result.stdout)["node"] as? String == nodes[0].address)
        }
    }

    @Test(arguments: ["peers", "watch", "connect", "auth"])
    func anUnreachableNodeIsExit69WithOneLine(_ command: String) async throws {
        let port = try await freePort()
        let result = try await ashita([command, "127.0.0.1:\(port)"], environment: ["ASHITA_TOKEN": "x"])
        #expect(result.status == 69)
        #expect(result.stdout.isEmpty)
        #expect(result.stderr == "ashita: cannot reach 127.0.0.1:\(port) (connection refused) — is 'ashita serve \(port)' running?\n")
    }

    @Test(arguments: ["peers", "watch", "connect", "auth"])
    func aBadAddressIsExit64(_ command: String) async throws {
        for address in ["nope", "127.0.0.1:0", "../x:1"] {
            let result = try await ashita(command, address)
            #expect(result.status == 64, "\(command) \(address)")
            #expect(result.stderr.contains("node must be host:port"))
            #expect(result.stdout.isEmpty)
        }
        let missing = try await ashita([command], environment: ["ASHITA_NODE": ""])
        #expect(missing.status == 64)
    }

    @Test func somethingThatIsNotAnAshitaNodeIsExit69() async throws {
        let server = try PlainHTTPServer(
            response: "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: 13\r\nConnection: close\r\n\r\n<p>hello</p>\n")
        defer { server.stop() }
        for command in ["peers", "watch", "connect"] {
            let result = try await ashita(command, "127.0.0.1:\(server.port)")
            #expect(result.status == 69, "\(command): \(result.stderr)")
            #expect(result.stdout.isEmpty)
            #expect(result.stderr.hasPrefix("ashita: 127.0.0.1:\(server.port) does not answer like an ashita node"), "\(result.stderr)")
        }
    }

    /// A web server's error page is not repeated in the one-line error.
    @Test func aWebServersErrorPageStaysOutOfTheError() async throws {
        let page = "<!DOCTYPE html>\n<html><body><h1>404 Not Found</h1>\n<p>nothing here</p></body></html>\n"
        let server = try PlainHTTPServer(
            response: "HTTP/1.1 404 Not Found\r\nContent-Type: text/html\r\nContent-Length: \(page.utf8.count)\r\nConnection: close\r\n\r\n\(page)")
        defer { server.stop() }
        for command in ["peers", "watch", "connect"] {
            let result = try await ashita(command, "127.0.0.1:\(server.port)")
            #expect(result.status == 69, "\(command): \(result.stderr)")
            #expect(!result.stderr.contains("<") && result.stderr.filter { $0 == "\n" }.count == 1, "\(command): \(result.stderr)")
        }
    }

    @Test func theNodeItselfForPeopleAndForScripts() async throws {
        try await withServedNodes(1) { nodes in
            let node = nodes[0]
            let direct = try jsonObject(try await CurlHTTPClient().get("\(node.url)/api/v1/node").text)
            let json = try await ashita("peers", node.address, "--node", "--json")
            #expect(json.status == 0)
            let document = try jsonObject(json.stdout)
            #expect(document["id"] as? String == direct["id"] as? String)
            #expect(document["node"] as? String == node.address)
            let human = try await ashita("peers", node.address, "--node")
            #expect(human.status == 0)
            let lines = human.stdout.split(separator: "\n").map(String.init)
            #expect(lines.first == "node        \(node.address)", "\(lines)")
            #expect(lines.contains("id          \(try #require(direct["id"] as? String))"))
            #expect(lines.contains { $0.hasPrefix("uptime      ") && $0.hasSuffix("s") })
        }
    }

    @Test func allListsPendingAndUnverifiedHomesForTheOperator() async throws {
        try await withServedNodes(1) { nodes in
            let node = nodes[0]
            let refused = try await ashita("peers", node.address, "--all")
            #expect(refused.status == 77, "the operator's view needs the credential")
            let client = try await node.join(home: "127.0.0.1:9000")
            let result = try await ashita(["peers", node.address, "--all"], environment: ["ASHITA_TOKEN": node.token])
            #expect(result.status == 0, "\(result.stderr)")
            let lines = result.stdout.split(separator: "\n").map(String.init)
            #expect(lines.first?.hasPrefix("NODE            STATUS") == true, "\(lines)")
            #expect(lines.dropFirst().contains { $0.hasPrefix("127.0.0.1:9000  ") }, "\(lines)")
            let json = try await ashita(["peers", node.address, "--all", "--json"], environment: ["ASHITA_TOKEN": node.token])
            let peers = try #require(try jsonObject(json.stdout)["peers"] as? [[String: Any]])
            #expect(peers.first?["status"] as? String != nil, "the operator's view says each home's status")
            await client.close()
        }
    }

    @Test func kickWithoutAStoredCredentialIsExit77() async throws {
        try await withServedNodes(1) { nodes in
            let result = try await ashita("peers", nodes[0].address, "--kick", "a:1")
            #expect(result.status == 77, "no credential yet")
            #expect(result.stderr == "ashita: no operator credential for \(nodes[0].address); run 'ashita auth \(nodes[0].address)' first\n")
        }
    }
}

/// A loopback port nothing listens on. Not one a node had a moment ago: tests running at the same time bind
/// ephemeral ports, and one of them took such a port in a run. Port 1 (tcpmux) is outside that range and
/// nothing serves it here.
func freePort() async throws -> Int { 1 }
