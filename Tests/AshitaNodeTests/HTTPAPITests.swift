import AshitaTestSupport
import AshitaClient
import AshitaNode
import Foundation
import Testing

/// Every endpoint, read through libcurl as the CLI reads it.
@Suite struct HTTPAPITests {
    let http = CurlHTTPClient()

    @Test func healthAndNode() async throws {
        try await withNode { node in
            let health = try await http.get("\(node.url)/healthz")
            #expect(health.status == 200)
            #expect(health.text == "{\"status\":\"ok\"}\n")
            _ = try await WebSocketPeer.joined(node, home: "127.0.0.1:9100")
            let info = try await getJSON("\(node.url)/api/v1/node")
            #expect(info["node"] as? String == node.name)
            #expect((info["id"] as? String)?.count == 32)
            #expect(info["version"] as? String == ashitaVersion)
            #expect(info["clients"] as? Int == 1)
            #expect(info["peers"] as? Int == 1)
            #expect(info["uptimeSeconds"] is Int)
        }
    }

    @Test func peersListNodeSinceClientsAndDirection() async throws {
        try await withNode { node in
            #expect(try await getJSON("\(node.url)/api/v1/peers")["peers"] as? [Any] != nil)
            _ = try await WebSocketPeer.joined(node, home: "127.0.0.1:9100")
            _ = try await WebSocketPeer.joined(node, home: "127.0.0.1:9100")
            let list = try await getJSON("\(node.url)/api/v1/peers")
            #expect(list["node"] as? String == node.name)
            let peers = try #require(list["peers"] as? [[String: Any]])
            #expect(peers.count == 1)
            #expect(peers[0]["node"] as? String == "127.0.0.1:9100")
            #expect(peers[0]["clients"] as? Int == 2)
            #expect(peers[0]["direction"] as? String == "inbound")
            let since = try #require(peers[0]["since"] as? String)
            #expect(ISO8601DateFormatter().date(from: since.replacingOccurrences(of: #"\.\d+"#, with: "", options: .regularExpression)) != nil)
        }
    }

    @Test func unknownPathsAnswer404InTheErrorShape() async throws {
        try await withNode { node in
            for path in ["/nope", "/api/v2/node", "/../../etc/passwd", "/%2e%2e/%2e%2e/etc/passwd", "/Page/index.html", "//etc/passwd"] {
                let response = try await http.get("\(node.url)\(path)")
                #expect(response.status == 404, "\(path)")
                let body = try #require(try JSONSerialization.jsonObject(with: Data(response.body)) as? [String: [String: String]])
                #expect(body["error"]?["code"] == "not-found")
                #expect(!response.text.contains("root:"))
            }
            let wrongMethod = try await http.post("\(node.url)/api/v1/peers")
            #expect(wrongMethod.status == 405)
            #expect(wrongMethod.text.contains(#""code":"method-not-allowed""#))
        }
    }

    @Test func thePageAndItsResourcesComeFromTheBinary() async throws {
        try await withNode { node in
            let page = try await http.get("\(node.url)/")
            #expect(page.status == 200)
            #expect(page.text.contains(#"<meta name="ashita-node" content="\#(node.name)">"#))
            #expect(!page.text.contains("http://") && !page.text.contains("https://"), "nothing loads from other hosts")
            let script = try await http.get("\(node.url)/ashita.js")
            #expect(script.text.contains("window.generateSocket = generateSocket"))
            #expect(try await http.get("\(node.url)/ashita.css").status == 200)
            let icon = try await http.get("\(node.url)/favicon.svg")
            #expect(icon.text.hasPrefix("<svg"))
        }
    }

    @Test func operatorTokenCheckAnswers204Or401AndRateLimits() async throws {
        try await withNode { node in
            let token = try String(contentsOfFile: node.dataDirectory.tokenPath, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
            let url = "\(node.url)/api/v1/auth"
            #expect(try await http.post(url, headers: ["Authorization: Bearer \(token)"]).status == 204)
            #expect(try await http.post(url).status == 401)
            let wrong = try await http.post(url, headers: ["Authorization: Bearer \(String(token.reversed()))"])
            #expect(wrong.status == 401)
            #expect(wrong.text.contains(#""code":"unauthorized""#))
            #expect(!wrong.text.contains(token.prefix(8)))
            for _ in 1...4 { _ = try await http.post(url, headers: ["Authorization: Bearer nope"]) }
            let limited = try await http.post(url, headers: ["Authorization: Bearer \(token)"])
            #expect(limited.status == 429)
            #expect(limited.text.contains(#""code":"rate-limited""#))
        }
    }

    @Test func oversizedBodiesAreRefused() async throws {
        try await withNode { node in
            let response = try await http.post("\(node.url)/api/v1/auth", body: Array(repeating: 0x41, count: 100_000))
            #expect(response.status == 413)
        }
    }
}
