import AshitaClient
import AshitaTestSupport
import Foundation
import Testing

/// `serve --tls-cert --tls-key` with a certificate the test makes itself; the CLI over `https://` with
/// `--cacert`; the operator token sent only over TLS.
@Suite struct TLSTests {
    @Test func theOperatorTokenTravelsOnlyOverVerifiedTLS() async throws {
        let (certificate, key) = try await makeSelfSignedCertificate()
        let dir = temporaryDirectory()
        let node = try await ServedNode.start(dataDirectory: dir, extra: ["--tls-cert", certificate, "--tls-key", key])
        let url = "https://127.0.0.1:\(node.port)"
        let home = temporaryDirectory()

        // Trusting the node's certificate: auth checks the token over HTTPS and WSS, then stores it.
        let auth = try await ashita(
            ["auth", url, "--cacert", certificate, "--token-file", "\(dir)/operator-token"], environment: ["HOME": home])
        #expect(auth.status == 0, "\(auth.stderr)")
        let clients = try await ashita(["peers", url, "--cacert", certificate, "--clients", "--json"], environment: ["HOME": home])
        #expect(clients.status == 0, "\(clients.stderr)")

        // Without the CA the certificate is refused before any token is sent.
        let untrusted = try await ashita(["peers", url, "--json"], environment: ["HOME": home])
        #expect(untrusted.status == 69)
        #expect(untrusted.stderr.contains("TLS with 127.0.0.1:\(node.port) failed"), "\(untrusted.stderr)")
        #expect(untrusted.stderr.contains("--cacert"))
        // A plain address for a TLS node: every command says to use https://, and no token is sent.
        for command in [["peers"], ["watch"], ["connect", "--once"], ["auth"]] {
            let plain = try await ashita(
                [command[0], node.address] + command.dropFirst(), environment: ["HOME": home, "ASHITA_TOKEN": "wrong"])
            #expect(plain.status == 69)
            #expect(plain.stderr == "ashita: \(node.address) speaks TLS — use https://\(node.address)\n", "\(command): \(plain.stderr)")
        }
        try await node.stop()
    }

    /// The server side of it: a TLS server that records every request sees the token only from a client that
    /// trusts its certificate; `auth` and `peers --clients` without `--cacert` send it nothing at all.
    @Test func noTokenCrossesAnUntrustedCertificate() async throws {
        let (certificate, key) = try await makeSelfSignedCertificate()
        let server = try await RecordingTLSServer(certificate: certificate, key: key)
        let url = "https://127.0.0.1:\(server.port)"
        let token = String(repeating: "ab", count: 32)
        let tokenFile = temporaryDirectory() + "/token"
        try writeFile(tokenFile, token)
        let env = ["XDG_CONFIG_HOME": temporaryDirectory(), "ASHITA_TOKEN": token]

        let auth = try await ashita(["auth", url, "--token-file", tokenFile], environment: env)
        #expect(auth.status == 69)
        let clients = try await ashita(["peers", url, "--clients"], environment: env)
        #expect(clients.status == 69)
        #expect(server.requests.isEmpty, "requests came over an untrusted connection: \(server.requests)")

        // Trusted, the same command does send it: the server would have seen it.
        let trusted = try await ashita(["auth", url, "--token-file", tokenFile, "--cacert", certificate], environment: env)
        #expect(trusted.status == 77)
        #expect(server.requests.contains { $0.authorization == "Bearer \(token)" }, "\(server.requests)")
        await server.stop()
    }

    @Test func announcementsSayWhenANodeSpeaksTLS() async throws {
        let (certificate, key) = try await makeSelfSignedCertificate()
        let secure = try await ServedNode.start(extra: ["--tls-cert", certificate, "--tls-key", key])
        let plain = try await ServedNode.start(extra: [])
        let observer = try await plain.join(home: nil)
        let announcer = try await plain.join(home: secure.address)
        let discovered = try await within(10, "nodeDiscovered") { await observer.nextEvent() }
        #expect(discovered?.type == "nodeDiscovered")
        #expect(discovered?.content.nodeIp == secure.address)
        #expect(discovered?.content.tls == true)
        // `nodeList` carries the same for clients that join later.
        let followed = try await ashita(
            ["connect", plain.address, "--cacert", certificate, "--once", "--json"], environment: [:])
        #expect(followed.status == 0, "\(followed.stderr)")
        #expect(followed.stdout.contains(#""tls":true"#))
        _ = announcer
        try await plain.stop()
        try await secure.stop()
    }

    @Test func connectFollowsATLSNodeOverWSS() async throws {
        let (certificate, key) = try await makeSelfSignedCertificate()
        let secure = try await ServedNode.start(extra: ["--tls-cert", certificate, "--tls-key", key])
        let plain = try await ServedNode.start(extra: [])
        // The observer first: it then hears the announcement once the plain node has verified the secure one.
        let observer = try await plain.join(home: nil)
        let announcer = try await plain.join(home: secure.address)
        _ = try await observer.expect("nodeDiscovered")
        // The plain node's nodeList says the secure node speaks TLS; connect opens wss:// to it.
        let connect = try AshitaProcess(["connect", plain.address, "--cacert", certificate, "--json"])
        var fromSecure = false
        while !fromSecure, let line = try await connect.nextLine() {
            let object = try jsonObject(line)
            fromSecure = object["from"] as? String == secure.address && object["type"] as? String == "nodeConnected"
        }
        #expect(fromSecure)
        connect.signal(SIGINT)
        #expect(try await connect.exitStatus() == 0)
        #expect(try await connect.stderr().contains("ashita: connected to \(secure.address)"))
        await announcer.close()
        try await plain.stop()
        try await secure.stop()
    }
}
