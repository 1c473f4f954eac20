import AshitaClient
import AshitaCore
import ArgumentParser
import AshitaTerminal

extension Ashita {
    struct Peers: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "List a node's peers; as its operator, list or disconnect its clients.",
            discussion: """
                A peer is a node whose clients are connected to this one. --json prints the node's \
                /api/v1/peers document as it is. --clients and --kick need the operator credential that \
                'ashita auth ADDR' stores (or ASHITA_TOKEN).
                """)

        @OptionGroup var options: NodeOptions

        @Flag(help: "List every client connection (operator only): id, remote address, home, since.")
        var clients = false

        @Option(help: ArgumentHelp("Disconnect every client announcing this home (operator only).", valueName: "host:port"))
        var kick: String?

        func validate() throws {
            if clients && kick != nil { throw ValidationError("--clients and --kick do not go together") }
            if let kick {
                do { _ = try NodeAddress(parsing: kick) } catch { throw ValidationError("--kick: \(error)") }
            }
        }

        func run() async throws {
            let api = options.api
            do {
                if let kick {
                    let result = try await api.kick(try NodeAddress(parsing: kick), token: try operatorToken(for: options.node))
                    if options.json { return writeRaw(result.raw) }
                    let n = result.value.disconnected
                    printLine("disconnected \(n) client\(n == 1 ? "" : "s") announcing \(result.value.home)")
                } else if clients {
                    let list = try await api.get("/api/v1/clients", as: ClientList.self, token: try operatorToken(for: options.node))
                    if options.json { return writeRaw(list.raw) }
                    guard !list.value.clients.isEmpty else { return printLine("no clients") }
                    printLine(Output.table(
                        ["ID", "REMOTE", "HOME", "SINCE", "OPERATOR"],
                        list.value.clients.map { client in
                            [String(client.id), client.remote, client.home ?? (client.observer ? "(observer)" : "(not authenticated)"),
                             Output.age(client.since), client.operator ? "yes" : "no"]
                        }))
                } else {
                    let list = try await api.get("/api/v1/peers", as: PeerList.self)
                    if options.json { return writeRaw(list.raw) }
                    guard !list.value.peers.isEmpty else { return printLine("no peers") }
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
    }
}
