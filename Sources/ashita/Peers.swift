import AshitaClient
import AshitaCore
import ArgumentParser
import AshitaTerminal

#if canImport(Glibc)
import Glibc
#endif

extension Ashita {
    struct Peers: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "List a node's peers; as its operator, list or disconnect its clients.",
            discussion: """
                A peer is a node whose clients are connected to this one. --json prints the node's \
                /api/v1/peers document as it is (with --node, /api/v1/node). An empty list prints nothing on \
                stdout. --all, --clients and --kick need the operator credential that 'ashita auth ADDR' stores \
                (or ASHITA_TOKEN).
                """)

        @OptionGroup var options: NodeOptions

        @Flag(help: "List every client connection (operator only): id, remote address, home, since.")
        var clients = false

        @Flag(help: "Also list homes still being checked or found not to be nodes, and why (operator only).")
        var all = false

        @Flag(help: "Show the node itself: address, id, version, uptime, clients, peers, operators.")
        var node = false

        @Option(help: ArgumentHelp("Disconnect every client announcing this home (operator only).", valueName: "host:port"))
        var kick: String?

        func validate() throws {
            let views = [clients, kick != nil, all, node].filter { $0 }.count
            if views > 1 { throw ValidationError("--clients, --kick, --all and --node do not go together: pick one") }
            if let kick {
                do { _ = try NodeAddress(parsing: kick) } catch { throw ValidationError("--kick: \(error)") }
            }
        }

        func run() async throws {
            let api = options.api
            do {
                if let kick {
                    let home = try NodeAddress(parsing: kick)
                    let result = try await withOperatorToken(for: options.node) { try await api.kick(home, token: $0) }
                    if options.json { return writeRaw(result.raw) }
                    let n = result.value.disconnected
                    printLine("disconnected \(n) client\(n == 1 ? "" : "s") announcing \(result.value.home)")
                } else if clients {
                    let list = try await withOperatorToken(for: options.node) {
                        try await api.get("/api/v1/clients", as: ClientList.self, token: $0)
                    }
                    if options.json { return writeRaw(list.raw) }
                    guard !list.value.clients.isEmpty else { return noteEmpty("no clients") }
                    printLine(Output.table(
                        ["ID", "REMOTE", "HOME", "SINCE", "OPERATOR"],
                        list.value.clients.map { client in
                            [String(client.id), client.remote, client.home ?? (client.observer ? "(observer)" : "(not authenticated)"),
                             Output.age(client.since), client.operator ? "yes" : "no"]
                        }))
                } else if node {
                    let status = try await api.get("/api/v1/node", as: NodeStatus.self)
                    if options.json { return writeRaw(status.raw) }
                    printLine(Self.describe(status.value))
                } else if all {
                    let list = try await withOperatorToken(for: options.node) {
                        try await api.get("/api/v1/peers?all=1", as: PeerList.self, token: $0)
                    }
                    if options.json { return writeRaw(list.raw) }
                    guard !list.value.peers.isEmpty else { return noteEmpty("no peers, pending or unverified homes") }
                    printLine(Output.table(
                        ["NODE", "STATUS", "ID", "SINCE", "CLIENTS", "REASON"],
                        list.value.peers.map {
                            [$0.node, $0.status ?? "-", $0.id.map { String($0.prefix(12)) } ?? "-", Output.age($0.since),
                             String($0.clients), $0.reason ?? ""]
                        }))
                } else {
                    let list = try await api.get("/api/v1/peers", as: PeerList.self)
                    if options.json { return writeRaw(list.raw) }
                    guard !list.value.peers.isEmpty else { return noteEmpty("no peers") }
                    printLine(Output.table(
                        ["NODE", "ID", "SINCE", "CLIENTS", "DIRECTION"],
                        list.value.peers.map {
                            [$0.node, $0.id.map { String($0.prefix(12)) } ?? "-", Output.age($0.since), String($0.clients), $0.direction ?? "-"]
                        }))
                }
            } catch let error as NodeAPIError {
                throw fail(error.description, code: error.exitCode)
            }
        }

        /// An empty list prints nothing on stdout (so `| wc -l` counts 0); a person at a terminal is told on stderr.
        private func noteEmpty(_ note: String) {
            if isatty(2) == 1 { printError("ashita: \(note)") }
        }

        /// `/api/v1/node` as aligned lines for people.
        static func describe(_ status: NodeStatus) -> String {
            var rows: [(String, String)] = [
                ("node", status.node), ("id", status.id), ("version", status.version),
                ("uptime", Output.duration(seconds: status.uptimeSeconds)), ("clients", String(status.clients)),
                ("peers", String(status.peers)), ("operators", String(status.operators)),
            ]
            if let tls = status.tls { rows.append(("tls", tls ? "yes" : "no")) }
            if let key = status.publicKey { rows.append(("public key", key)) }
            let width = rows.map(\.0.count).max() ?? 0
            return rows.map { name, value in
                Output.bold(name) + String(repeating: " ", count: width - name.count + 2) + Output.clean(value)
            }.joined(separator: "\n")
        }
    }
}
