import AshitaClient
import AshitaCore
import ArgumentParser
import AshitaTerminal
import AshitaSystem

#if canImport(Glibc)
import Glibc
#endif

extension Ashita {
    struct Auth: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Authenticate as a node's operator and keep the credential for later commands.",
            discussion: """
                The token comes from --token-file or --data-dir of a node on this machine (DIR/operator-token), \
                else $ASHITA_TOKEN, else, for a node on a loopback address, the default data directory of its \
                port (where 'ashita serve PORT' keeps it); never from an argument, which others could read in 'ps'. It is checked \
                over HTTP (POST /api/v1/auth) and over WebSocket (auth must answer nodeOperatorConnected), then \
                saved in $XDG_CONFIG_HOME/ashita/credentials.json (mode 0600), one entry per node.
                """)

        @OptionGroup var options: NodeOptions

        @Option(help: ArgumentHelp("Read the operator token from this file.", valueName: "file"), completion: .file())
        var tokenFile: String?

        @Option(
            help: ArgumentHelp("Read the token from a local node's data directory (DIR/operator-token).", valueName: "dir"),
            completion: .directory)
        var dataDir: String?

        @Flag(help: "Remove the stored credential for the node.")
        var logout = false

        @Flag(help: "Say whether the stored credential for the node still works (exit 0 if it does, 77 if not).")
        var status = false

        func validate() throws {
            if logout && status { throw ValidationError("--logout and --status do not go together") }
            if tokenFile != nil && dataDir != nil { throw ValidationError("--token-file and --data-dir do not go together") }
        }

        func run() async throws {
            let node = options.node
            let store = CredentialStore()
            do {
                if logout {
                    let removed = try store.remove(node)
                    return report(removed ? "removed the credential for \(node)" : "no credential was stored for \(node)",
                                  json: Report(node: node.description, removed: removed))
                }
                if status {
                    guard try store.token(for: node) != nil else {
                        throw fail("no credential for \(node); run 'ashita auth \(node)' first", code: Exit.noPermission)
                    }
                    let api = options.api
                    try await withOperatorToken(for: node, storedOnly: true) { token in try await api.verify(token: token) }
                    return report("the stored credential for \(node) works", json: Report(node: node.description, operator: true))
                }
                let token = try readToken()
                try await options.api.verify(token: token)
                try await confirmOverWebSocket(node, token: token)
                try store.save(token, for: node, at: .now())
                report("authenticated as the operator of \(node); credential saved in \(store.path)",
                       json: Report(node: node.description, operator: true, credentials: store.path))
            } catch let error as NodeAPIError {
                throw fail(error.description, code: error.exitCode)
            } catch let error as FileError {
                throw fail(error.description)
            }
        }

        /// What `auth` did, for `--json`; fields that do not apply are left out.
        private struct Report: Encodable {
            var node: String
            var `operator`: Bool?
            var removed: Bool?
            var credentials: String?
        }

        private func report(_ text: String, json: Report) {
            printLine(options.json ? jsonLine(json) : text)
        }

        private func readToken() throws -> String {
            let text: String
            if let file = tokenFile ?? dataDir.map({ "\($0)/operator-token" }) {
                do {
                    guard let read = try SecureFiles.readText(file) else {
                        throw fail("\(file) does not exist; give the node's token file (DATA_DIR/operator-token)", code: Exit.usage)
                    }
                    text = read
                } catch let error as FileError {
                    throw fail(error.description, code: Exit.noPermission)
                }
            } else if let environment = getenv("ASHITA_TOKEN") {
                text = String(cString: environment)
            } else if let local = try localNodeToken() {
                text = local
            } else {
                throw fail("no token: use --token-file FILE, --data-dir DIR, or set ASHITA_TOKEN", code: Exit.usage)
            }
            let token = text.trimmingWhitespace()
            guard !token.isEmpty else { throw fail("the token is empty", code: Exit.noPermission) }
            return token
        }

        /// The token of a node on this machine (a loopback address) that keeps it in the default data directory of
        /// its port, as `ashita serve PORT` does; nil for any other node, or when there is none.
        private func localNodeToken() throws -> String? {
            let node = options.node
            guard node.bareHost == "localhost" || node.ip?.scope == .loopback else { return nil }
            let file = DefaultPaths.nodeData(port: node.port) + "/operator-token"
            switch Result(catching: { () throws(FileError) in try SecureFiles.readText(file, access: .secret) }) {
            case .success(let text): return text
            case .failure(let error): throw fail(error.description, code: Exit.noPermission)
            }
        }

        /// The same token over WebSocket must be answered with nodeOperatorConnected.
        private func confirmOverWebSocket(_ node: NodeAddress, token: String) async throws {
            let peer: WebSocketPeer
            do {
                peer = try await WebSocketPeer.connect(
                    host: node.bareHost, port: node.port, timeout: .seconds(Int64(options.timeout.rounded(.up))),
                    tls: options.endpoint.tls, caFile: options.cacert)
            } catch {
                let why = await NodeAPIError.webSocket(error, to: options.endpoint, timeoutSeconds: options.timeout)
                throw fail(why.description, code: why.exitCode)
            }
            try await peer.send(ClientMessage.auth(home: nil, token: token).text)
            while let event = await peer.nextEvent() {
                switch event.type {
                case "nodeOperatorConnected":
                    await peer.close()
                    return
                case "error":
                    await peer.close()
                    throw event.content.code == "rate-limited"
                        ? fail(NodeAPIError.rateLimited(node).description, code: Exit.noPermission)
                        : fail(NodeAPIError.unauthorized(node).description, code: Exit.noPermission)
                default:
                    continue
                }
            }
            throw fail("\(node) closed the WebSocket before confirming the operator", code: Exit.failure)
        }
    }
}

/// Runs an operator request with the token from $ASHITA_TOKEN, else the one 'ashita auth' stored. A stored
/// credential the node refuses (its token changed) is dropped at once, and the user told: the next command has no
/// credential to send, so a monitoring loop cannot run into the node's lockout of failed logins.
/// `storedOnly`: the saved credential even when $ASHITA_TOKEN is set (`auth --status` checks what is saved).
func withOperatorToken<T>(
    for node: NodeAddress, storedOnly: Bool = false, _ request: (String) async throws -> T
) async throws -> T {
    if !storedOnly, let environment = getenv("ASHITA_TOKEN") {
        return try await request(String(cString: environment).trimmingWhitespace())
    }
    let store = CredentialStore()
    let stored: String?
    do {
        stored = try store.token(for: node)
    } catch {
        throw fail(error.description)
    }
    guard let token = stored else {
        throw fail("no operator credential for \(node); run 'ashita auth \(node)' first", code: Exit.noPermission)
    }
    do {
        return try await request(token)
    } catch NodeAPIError.unauthorized {
        _ = try? store.remove(node)
        throw fail(
            "\(node) refused the saved operator credential (its token changed?), so it is removed; "
                + "run 'ashita auth \(node)' with the node's current token", code: Exit.noPermission)
    }
}

extension String {
    func trimmingWhitespace() -> String {
        let isSpace: (Character) -> Bool = { $0 == " " || $0 == "\n" || $0 == "\t" || $0 == "\r" }
        return String(drop(while: isSpace).reversed().drop(while: isSpace).reversed())
    }
}
