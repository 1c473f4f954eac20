import AshitaTestSupport
import AshitaClient
import Foundation
import LoopbackSockets
import Testing

@Suite struct AuthCommandTests {
    @Test func storesAWorkingCredentialOwnerOnlyAndUsesIt() async throws {
        try await withServedNodes(1) { nodes in
            let node = nodes[0]
            let config = temporaryDirectory()
            let env = ["XDG_CONFIG_HOME": config]
            let auth = try await ashita(["auth", node.address, "--data-dir", node.dataDirectory], environment: env)
            #expect(auth.status == 0, "\(auth.stderr)")
            let file = "\(config)/ashita/credentials.json"
            #expect(auth.stdout == "authenticated as the operator of \(node.address); credential saved in \(file)\n")
            let mode = try FileManager.default.attributesOfItem(atPath: file)[.posixPermissions] as? Int
            #expect(mode == 0o600)
            let saved = try #require(try jsonObject(String(contentsOfFile: file, encoding: .utf8))["nodes"] as? [String: [String: String]])
            #expect(saved[node.address]?["token"] == node.token)

            #expect(try await ashita(["auth", node.address, "--status"], environment: env).status == 0)

            // Operator-only views now work: the clients list, then a kick.
            let kicked = try await node.join(home: "127.0.0.1:9300")
            let clients = try await ashita(["peers", node.address, "--clients"], environment: env)
            #expect(clients.status == 0)
            #expect(clients.stdout.hasPrefix("ID  REMOTE     HOME            SINCE   OPERATOR\n"))
            #expect(clients.stdout.contains("127.0.0.1:9300"))
            let json = try await ashita(["peers", node.address, "--clients", "--json"], environment: env)
            let list = try #require(try jsonObject(json.stdout)["clients"] as? [[String: Any]])
            #expect(list.contains { $0["home"] as? String == "127.0.0.1:9300" && $0["remote"] as? String == "127.0.0.1" })

            let kick = try await ashita(["peers", node.address, "--kick", "127.0.0.1:9300"], environment: env)
            #expect(kick.stdout == "disconnected 1 client announcing 127.0.0.1:9300\n")
            var closeCode: UInt16?
            while let message = try await within(15, "the kick", { await kicked.next() }) {
                if case .close(let code, _) = message { closeCode = code }
            }
            #expect(closeCode == 1008)

            let logout = try await ashita(["auth", node.address, "--logout"], environment: env)
            #expect(logout.stdout == "removed the credential for \(node.address)\n")
            let after = try await ashita(["auth", node.address, "--status"], environment: env)
            #expect(after.status == 77)
            #expect(after.stderr == "ashita: no credential for \(node.address); run 'ashita auth \(node.address)' first\n")
        }
    }

    @Test func aWrongTokenIsExit77WithNoHint() async throws {
        try await withServedNodes(1) { nodes in
            let node = nodes[0]
            let file = temporaryDirectory() + "/token"
            try String(repeating: "0", count: 64).write(toFile: file, atomically: true, encoding: .utf8)
            let config = temporaryDirectory()
            let result = try await ashita(["auth", node.address, "--token-file", file], environment: ["XDG_CONFIG_HOME": config])
            #expect(result.status == 77)
            #expect(result.stdout.isEmpty)
            #expect(result.stderr == "ashita: \(node.address) refused the operator token — run 'ashita auth \(node.address)' with the token from its data directory\n")
            #expect(!FileManager.default.fileExists(atPath: "\(config)/ashita/credentials.json"), "nothing stored")

            let viaEnvironment = try await ashita(["auth", node.address], environment: ["ASHITA_TOKEN": node.token, "XDG_CONFIG_HOME": config])
            #expect(viaEnvironment.status == 0)
        }
    }

    @Test func withoutACredentialOperatorViewsAreExit77() async throws {
        try await withServedNodes(1) { nodes in
            let env = ["XDG_CONFIG_HOME": temporaryDirectory()]
            for arguments in [["peers", nodes[0].address, "--clients"], ["peers", nodes[0].address, "--kick", "a.example:1"]] {
                let result = try await ashita(arguments, environment: env)
                #expect(result.status == 77)
                #expect(result.stderr.hasSuffix("run 'ashita auth \(nodes[0].address)' first\n"))
            }
        }
    }

    @Test func tooManyAttemptsIsExit77SayingToWait() async throws {
        try await withServedNodes(1) { nodes in
            let node = nodes[0]
            let file = temporaryDirectory() + "/token"
            try writeFile(file, String(repeating: "0", count: 64))
            let env = ["XDG_CONFIG_HOME": temporaryDirectory()]
            for _ in 0..<5 {
                #expect(try await ashita(["auth", node.address, "--token-file", file], environment: env).status == 77)
            }
            // The right token now meets the lockout of this address, and says so.
            let locked = try await ashita(["auth", node.address], environment: env.merging(["ASHITA_TOKEN": node.token]) { $1 })
            #expect(locked.status == 77)
            #expect(locked.stderr == "ashita: \(node.address) refuses operator logins from here for now after repeated failures — wait a minute\n")
        }
    }

    /// `ashita serve PORT` says on its first start where its token is and the one command to use it; that
    /// command finds the token by itself in the port's default data directory.
    @Test func theFirstOperatorCommandWorksAsTheNodeSaysIt() async throws {
        let data = temporaryDirectory()
        let env = ["XDG_DATA_HOME": data, "XDG_CONFIG_HOME": temporaryDirectory()]
        // A port nothing listens on now, so the default data directory's name is known before the start.
        let (fd, port) = try LoopbackSocket.listen(backlog: 1)
        close(fd)
        let node = try AshitaProcess(["serve", "\(port)", "--no-verify-announcements"], environment: env)
        #expect(try await node.nextLine() == "ashita node 127.0.0.1:\(port) listening on http://127.0.0.1:\(port)/")
        let said = try #require(try await node.nextErrorLine(containing: "first start"))
        #expect(said == "ashita: first start: the operator token is in \(data)/ashita/\(port)/operator-token (mode 0600); authenticate with: ashita auth 127.0.0.1:\(port)")
        let auth = try await ashita(["auth", "127.0.0.1:\(port)"], environment: env)
        #expect(auth.status == 0, "\(auth.stderr)")
        // A node that is not on this machine's loopback gets no token from here.
        let elsewhere = try await ashita(["auth", "192.0.2.1:\(port)", "--timeout", "1"], environment: env)
        #expect(elsewhere.status == 64 && elsewhere.stderr.hasPrefix("ashita: no token"), "\(elsewhere.stderr)")
        node.signal(SIGTERM)
        #expect(try await node.exitStatus() == 0)
        // The next start is not the first: nothing more is said about the token.
        let again = try AshitaProcess(["serve", "\(port)", "--no-verify-announcements"], environment: env)
        _ = try await again.nextLine()
        again.signal(SIGTERM)
        #expect(try await again.exitStatus() == 0)
        #expect(try await !again.stderr().contains("first start"))
    }

    /// After the node's token changes, the saved credential is sent once: the node refuses it, it is dropped and
    /// the user told, and commands after that send nothing, so a monitoring loop never reaches the lockout
    /// (five failures) and the right token still works.
    @Test func aStaleCredentialIsDroppedAtTheFirstRefusal() async throws {
        try await withServedNodes(1) { nodes in
            let node = nodes[0]
            let config = temporaryDirectory()
            let env = ["XDG_CONFIG_HOME": config]
            try FileManager.default.createDirectory(atPath: "\(config)/ashita", withIntermediateDirectories: true)
            let stale = #"{"nodes":{"\#(node.address)":{"saved":"2026-11-01T00:00:00.000Z","token":"\#(String(repeating: "0", count: 64))"}}}"#
            try writeFile("\(config)/ashita/credentials.json", stale)
            chmod("\(config)/ashita/credentials.json", 0o600)

            let first = try await ashita(["peers", node.address, "--clients"], environment: env)
            #expect(first.status == 77)
            #expect(first.stderr == "ashita: \(node.address) refused the saved operator credential (its token changed?), so it is removed; run 'ashita auth \(node.address)' with the node's current token\n")
            for arguments in [["auth", node.address, "--status"]] + Array(repeating: ["peers", node.address, "--clients"], count: 6) {
                let later = try await ashita(arguments, environment: env)
                #expect(later.status == 77)
                #expect(later.stderr.hasSuffix("run 'ashita auth \(node.address)' first\n"), "\(later.stderr)")
            }
            let right = try await ashita(["auth", node.address, "--data-dir", node.dataDirectory], environment: env)
            #expect(right.status == 0, "locked out: \(right.stderr)")
        }
    }

    /// A credential saved for one spelling of a node serves the others: `localhost` is 127.0.0.1.
    @Test func aCredentialServesEverySpellingOfItsNode() async throws {
        try await withServedNodes(1) { nodes in
            let node = nodes[0]
            let env = ["XDG_CONFIG_HOME": temporaryDirectory()]
            #expect(try await ashita(["auth", node.address, "--data-dir", node.dataDirectory], environment: env).status == 0)
            let clients = try await ashita(["peers", "localhost:\(node.port)", "--clients"], environment: env)
            #expect(clients.status == 0, "\(clients.stderr)")
            #expect(try await ashita(["auth", "localhost:\(node.port)", "--logout"], environment: env).stdout.hasPrefix("removed"))
            #expect(try await ashita(["peers", node.address, "--clients"], environment: env).status == 77)
        }
    }

    @Test func theTokenIsNeverAnArgument() async throws {
        let result = try await ashita("auth", "127.0.0.1:1", "--token", "secret")
        #expect(result.status == 64)
        #expect(result.stderr.contains("Unknown option '--token'"))
    }
}
