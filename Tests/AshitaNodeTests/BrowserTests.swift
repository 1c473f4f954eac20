import AshitaTestSupport
import AshitaClient
import AshitaNode
import Testing

/// The page in a real browser: the seed's README test case with three nodes and a page on each, in headless Chromium.
@Suite(.serialized) struct BrowserTests {
    /// Two nodes serving HTTPS and WSS with the tests' own certificate: the pages use wss:// for their own node
    /// and for a node announced with `tls`.
    @Test func pagesOnTLSNodesUseWSS() async throws {
        let (certificate, key) = try await makeSelfSignedCertificate()
        try await Chromium.with(extraArguments: ["--ignore-certificate-errors"]) { browser in
            try await withNodes(2, configure: {
                $0.limits.verifyAnnouncements = true
                $0.tls = TLSFiles(certificate: certificate, privateKey: key)
            }) { nodes in
                let (a, b) = (nodes[0].name, nodes[1].name)
                let pageA = try await browser.open("https://\(a)/")
                let pageB = try await browser.open("https://\(b)/")
                try await pageA.waitUntil("ashita.socket[\(jsString(a))].readyState === WebSocket.OPEN")
                try await pageB.waitUntil("ashita.socket[\(jsString(b))].readyState === WebSocket.OPEN")
                #expect(try await pageA.evaluate("ashita.socket[\(jsString(a))].url").string == "wss://\(a)/")

                #expect(try await pageB.evaluate("generateSocket(\(jsString(a))) instanceof WebSocket") == .bool(true))
                // A checks B over TLS, announces it with tls: true, and page A opens wss:// to it.
                try await pageA.waitUntil(
                    "ashita.socket[\(jsString(b))] && ashita.socket[\(jsString(b))].readyState === WebSocket.OPEN")
                #expect(try await pageA.evaluate("ashita.socket[\(jsString(b))].url").string == "wss://\(b)/")
                #expect(try await pageA.evaluate("ashita.known[\(jsString(b))].tls") == .bool(true))
                #expect(try await pageA.evaluate("ashita.known[\(jsString(b))].id").string == nodes[1].id)
                #expect(await pageA.errors == [], "page A reported errors")
                #expect(await pageB.errors == [], "page B reported errors")
                await pageA.close()
                await pageB.close()
            }
        }
    }

    @Test func pagesOnThreeNodesReproduceTheSeedTestCase() async throws {
        try await Chromium.with { browser in
            try await withNodes(3, configure: { $0.limits.verifyAnnouncements = true }) { nodes in
                let (a, b, c) = (nodes[0].name, nodes[1].name, nodes[2].name)
                let pageA = try await browser.open("\(nodes[0].url)/")
                let pageB = try await browser.open("\(nodes[1].url)/")
                let pageC = try await browser.open("\(nodes[2].url)/")
                try await pageC.waitUntil("ashita.socket[\(jsString(c))].readyState === WebSocket.OPEN")
                #expect(try await pageA.evaluate("ashita.node").string == a)
                try await pageA.waitUntil("ashita.socket[\(jsString(a))].readyState === WebSocket.OPEN")
                try await pageB.waitUntil("ashita.socket[\(jsString(b))].readyState === WebSocket.OPEN")

                // On page B, as in the seed's README: generateSocket("<A>").
                #expect(try await pageB.evaluate("generateSocket(\(jsString(a))) instanceof WebSocket") == .bool(true))

                // Page A hears of B and opens a socket to it; its peer list shows B.
                let keysA = try await pageA.waitUntil(
                    "ashita.socket[\(jsString(b))] && ashita.socket[\(jsString(b))].readyState === WebSocket.OPEN && Object.keys(ashita.socket)")
                #expect(keysA.strings == [a, b])
                let peerA = try await pageA.waitUntil("document.querySelector('#peers li[data-node=\"\(b)\"]')?.textContent")
                #expect(peerA.string?.hasPrefix("\(b) — 1 client") == true, "\(peerA)")

                let keysB = try await pageB.waitUntil(
                    "ashita.socket[\(jsString(a))].readyState === WebSocket.OPEN && Object.keys(ashita.socket)")
                #expect(keysB.strings == [b, a])
                let peerB = try await pageB.waitUntil("document.querySelector('#peers li[data-node=\"\(a)\"]')?.textContent")
                #expect(peerB.string?.hasPrefix("\(a) — 1 client") == true, "\(peerB)")
                // The sockets table and the event log render what happened.
                #expect(try await pageA.evaluate("document.querySelectorAll('#sockets tbody tr').length").int == 2)
                // Times are the reader's local ones, 24-hour, with the zone named.
                let opened = try await pageA.evaluate("document.querySelector('#sockets tbody tr td:nth-child(3)').textContent").string ?? ""
                #expect(opened.wholeMatch(of: /\d\d:\d\d:\d\d \S+/) != nil, "\(opened)")
                let log = try await pageA.evaluate("document.getElementById('log').textContent").string ?? ""
                #expect(log.contains("nodeDiscovered") && log.contains(b))

                // The connect field refuses a bad address and opens nothing.
                let refused = try await pageA.evaluate(
                    """
                    (() => { document.getElementById('connect-address').value = 'not an address';
                      document.getElementById('connect-form').requestSubmit();
                      return [document.getElementById('connect-error').hidden, Object.keys(ashita.socket).length]; })()
                    """)
                #expect(refused == .array([.bool(false), .number(2)]))

                #expect(try await peerNames(nodes[0]) == [b])
                #expect(try await peerNames(nodes[1]) == [a])
                // The third page took no part: it still holds only its own socket, and its node has no peers.
                #expect(try await pageC.evaluate("Object.keys(ashita.socket)").strings == [c])
                #expect(try await peerNames(nodes[2]) == [])
                #expect(await pageC.errors == [], "page C reported errors")
                #expect(await pageA.errors == [], "page A reported errors")
                #expect(await pageB.errors == [], "page B reported errors")
                await pageA.close()
                await pageB.close()
                await pageC.close()
            }
        }
    }

    /// The page draws the mesh in SVG: every member a point coloured by state, this node's links as lines, the
    /// page's open sockets ringed; a member that leaves turns grey from the event stream, with no reload.
    @Test func pageDrawsTheMeshAndRedrawsItFromEvents() async throws {
        try await Chromium.with { browser in
            try await withNodes(3) { nodes in
                await nodes[1].join([nodes[0].address])
                await nodes[2].join([nodes[0].address])
                let page = try await browser.open("\(nodes[0].url)/")
                let links = try await page.waitUntil(
                    "document.querySelectorAll('#mesh circle.member.alive').length === 3 && document.querySelectorAll('#mesh line.link').length")
                #expect(links.int == 2)
                #expect(try await page.evaluate("document.querySelector('#mesh circle.self').dataset.node").string == nodes[0].name)
                let drawn = try await page.evaluate("[...document.querySelectorAll('#mesh circle.member')].map(c => c.dataset.node).sort()")
                #expect(drawn.strings == nodes.map(\.name).sorted())
                // The page follows the members it hears of, as any announced node: three sockets, three rings.
                _ = try await page.waitUntil("document.querySelectorAll('#mesh circle.socket').length === 3")
                let summary = try await page.evaluate("document.getElementById('mesh-summary').textContent").string ?? ""
                #expect(summary.hasPrefix("3 members: 3 alive"), "\(summary)")

                await nodes[2].shutdown()
                let left = try await page.waitUntil("document.querySelector('#mesh circle.member.left')?.dataset.node")
                #expect(left.string == nodes[2].name)
                await page.close()
            }
        }
    }
}
