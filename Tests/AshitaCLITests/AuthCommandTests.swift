import AshitaTestSupport
import AshitaClient
import Foundation
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

    @Test func theTokenIsNeverAnArgument() async throws {
        let result = try await ashita("auth", "127.0.0.1:1", "--token", "secret")
        #expect(result.status == 64)
        #expect(result.stderr.contains("Unknown option '--token'"))
    }
}
