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
                /api/v1/peers document as it is (with --node, /api/v1/node; with --mesh, /api/v1/members, every \
                node of the mesh between nodes, this one included). An empty list prints nothing on \
                stdout. --all, --clients, --kick, --bans and --unban need the operator credential that \
                'ashita auth ADDR' stores (or ASHITA_TOKEN). --kick takes a client id (from --clients; observers \
                too) or a home; with --ban DURATION the node also refuses, for that long and across restarts, \
                the home (for a home), or the client's remote address (for a client id).
                """)

        @OptionGroup var options: NodeOptions

        @Flag(help: "List every client connection (operator only): id, remote address, home, since.")
        var clients = false

        @Flag(help: "Also list homes still being checked or found not to be nodes, and why (operator only).")
        var all = false

        @Flag(help: "Show the node itself: address, id, version, uptime, clients, peers, operators.")
        var node = false

        @Flag(help: "List every member of the mesh between nodes that the node knows: state, id, link, last heard.")
        var mesh = false

        @Option(help: ArgumentHelp(
            "Disconnect one client by its id, or every client announcing a home (operator only).", valueName: "id|host:port"))
        var kick: String?

        @Option(help: ArgumentHelp(
            "With --kick: also ban it for this long (90, 90s, 10m, 2h, 7d; at most 366d), kept across restarts.",
            valueName: "duration"))
        var ban: String?

        @Flag(help: "List the bans in force and when each ends (operator only).")
        var bans = false

        @Option(help: ArgumentHelp("Lift the ban of a home or of an address (operator only).", valueName: "host:port|ip"))
        var unban: String?

        func validate() throws {
            let views = [clients, kick != nil, all, node, mesh, bans, unban != nil].filter { $0 }.count
            if views > 1 {
                throw ValidationError("--clients, --kick, --all, --node, --mesh, --bans and --unban do not go together: pick one")
            }
            if let kick, ClientID(kick) == nil {
                do { _ = try NodeAddress(parsing: kick) } catch { throw ValidationError("--kick takes a client id or a home: \(error)") }
            }
            if let ban {
                guard kick != nil else { throw ValidationError("--ban goes with --kick") }
                guard Self.seconds(ban) != nil else {
                    throw ValidationError("--ban takes a duration such as 90, 90s, 10m, 2h or 7d, from 1s to 366d; got '\(ban)'")
                }
            }
            if let unban, Self.unbanTarget(unban) == nil {
                throw ValidationError("--unban takes a home (host:port) or an address (IP); got '\(unban)'")
            }
        }

        func run() async throws {
            let api = options.api
            do {
                if let kick {
                    let target = try ClientID(kick).map { "client=\($0)" } ?? "home=\(NodeAddress(parsing: kick))"
                    let banned = ban.flatMap(Self.seconds).map { "&ban=\($0)" } ?? ""
                    let result = try await asOperator(.post, "/api/v1/kick?\(target)\(banned)", as: KickResult.self)
                    if options.json { return writeRaw(result.raw) }
                    printLine(Self.describe(result.value))
                } else if bans {
                    let list = try await asOperator(.get, "/api/v1/bans", as: BanDocument.self)
                    if options.json { return writeRaw(list.raw) }
                    guard !list.value.bans.isEmpty else { return noteEmpty("no bans") }
                    printLine(Output.table(
                        ["KIND", "TARGET", "UNTIL", "LEFT"],
                        list.value.bans.map { [$0.kind.rawValue, $0.target, Output.dateTime($0.until), Output.left($0.until)] }))
                } else if let unban, let (kind, target) = Self.unbanTarget(unban) {
                    let result = try await asOperator(.post, "/api/v1/unban?\(kind.rawValue)=\(target)", as: UnbanResult.self)
                    if options.json { return writeRaw(result.raw) }
                    printLine(result.value.removed ? "lifted the ban of \(target)" : "\(target) was not banned")
                } else if clients {
                    let list = try await asOperator(.get, "/api/v1/clients", as: ClientList.self)
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
                } else if mesh {
                    let list = try await api.get("/api/v1/members", as: MemberList.self)
                    if options.json { return writeRaw(list.raw) }
                    printLine(Output.table(
                        ["NODE", "STATE", "ID", "LINK", "LAST HEARD"],
                        list.value.members.map {
                            [$0.address, $0.state, String($0.id.prefix(12)), $0.this ? "(this node)" : $0.linked ? "yes" : "no",
                             $0.lastHeard.map { Output.age($0) } ?? "-"]
                        }))
                } else if all {
                    let list = try await asOperator(.get, "/api/v1/peers?all=1", as: PeerList.self)
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

        private enum Method { case get, post }

        /// An operator-only request, with the credential `withOperatorToken` picks (and drops when refused).
        private func asOperator<T: Decodable>(_ method: Method, _ path: String, as type: T.Type) async throws -> (raw: [UInt8], value: T) {
            let api = options.api
            return try await withOperatorToken(for: options.node) { token in
                switch method {
                case .get: try await api.get(path, as: type, token: token)
                case .post: try await api.post(path, as: type, token: token)
                }
            }
        }

        /// An empty list prints nothing on stdout (so `| wc -l` counts 0); a person at a terminal is told on stderr.
        private func noteEmpty(_ note: String) {
            if isatty(2) == 1 { printError("ashita: \(note)") }
        }

        /// "90", "90s", "10m", "2h", "7d" as seconds; nil for anything else, or outside 1 s to 366 days.
        static func seconds(_ text: String) -> Int64? {
            let units: [Character: Int64] = ["s": 1, "m": 60, "h": 3600, "d": 86_400]
            let (digits, unit) = text.last.flatMap { units[$0] }.map { (text.dropLast(), $0) } ?? (Substring(text), 1)
            guard let value = Int64(digits), value > 0, value <= BanList.maxSeconds / unit else { return nil }
            return value * unit
        }

        /// A home or an address, in the one spelling the node keeps.
        static func unbanTarget(_ text: String) -> (BanList.Kind, String)? {
            if let address = BanList.normalized(.address, text) { return (.address, address) }
            return BanList.normalized(.home, text).map { (.home, $0) }
        }

        static func describe(_ result: KickResult) -> String {
            let n = result.disconnected
            let who = result.client.map { "client \($0)" } ?? "\(n) client\(n == 1 ? "" : "s") announcing \(result.home ?? "")"
            var line = result.client == nil ? "disconnected \(who)" : (n > 0 ? "disconnected \(who)" : "\(who) was not connected")
            if let banned = result.banned, !banned.isEmpty {
                line += "; banned " + banned.map { "\($0.kind.rawValue) \($0.target)" }.joined(separator: " and ")
                    + " until " + Output.dateTime(banned[0].until)
                if result.client != nil && n > 1 { line += " (\(n) connections closed)" }
            }
            return line
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
