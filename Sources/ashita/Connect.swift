import AshitaClient
import AshitaCore
import ArgumentParser
import AshitaTerminal

#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

extension Ashita {
    struct Connect: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Join the mesh as a headless client, the way the browser page does.",
            discussion: """
                Sends auth with --node as its home (without it, an observer), prints what arrives, and follows \
                nodeDiscovered and nodeList to every node announced, with the same home. Lost nodes are retried \
                with backoff. SIGINT or SIGTERM closes every socket with a close frame and exits 0. With --json, \
                one JSON object per line: {"from":ADDR,"type":...,"content":{...}}.
                """)

        @OptionGroup var options: NodeOptions

        @Option(help: ArgumentHelp("This client's home node, announced to the nodes it joins. (default: an observer)", valueName: "host:port"))
        var node: String?

        @Flag(help: "Stay on ADDR; do not connect to announced nodes.")
        var noFollow = false

        @Option(help: ArgumentHelp("Most nodes to hold sockets to.", valueName: "n"))
        var maxConnections = 32

        @Flag(help: "Print the first node's nodeConnected and nodeList, then exit.")
        var once = false

        func validate() throws {
            if let node {
                do { _ = try NodeAddress(parsing: node) } catch { throw ValidationError("--node: \(error)") }
            }
            guard (1...4096).contains(maxConnections) else { throw ValidationError("--max-connections must be from 1 to 4096") }
        }

        func run() async throws {
            var settings = MeshWalker.Settings(home: try node.map { try NodeAddress(parsing: $0) })
            settings.follow = !noFollow
            settings.maxConnections = maxConnections
            settings.timeout = .milliseconds(Int(options.timeout * 1000))
            settings.caFile = options.cacert
            let start = options.endpoint
            if once { return try await printOnce(start, settings: settings) }

            let (notices, sink) = AsyncStream.makeStream(of: MeshWalker.Notice.self)
            let walker = MeshWalker(settings, notices: sink)
            let json = options.json
            try await untilSignalled {
                try await withThrowingTaskGroup(of: Void.self) { group in
                    group.addTask {
                        defer { sink.finish() }
                        do {
                            try await walker.run(from: start)
                        } catch is CancellationError {
                        } catch {
                            let why = await NodeAPIError.webSocket(error, to: start, timeoutSeconds: options.timeout)
                            throw fail(why.description, code: why.exitCode)
                        }
                    }
                    for await notice in notices { Self.show(notice, json: json) }
                    try await group.waitForAll()
                }
            }
        }

        private func printOnce(_ endpoint: NodeEndpoint, settings: MeshWalker.Settings) async throws {
            let start = endpoint.address
            let peer: WebSocketPeer
            do {
                peer = try await WebSocketPeer.connect(
                    host: start.bareHost, port: start.port, timeout: settings.timeout, tls: endpoint.tls,
                    caFile: settings.caFile)
            } catch {
                let why = await NodeAPIError.webSocket(error, to: endpoint, timeoutSeconds: options.timeout)
                throw fail(why.description, code: why.exitCode)
            }
            do {
                try await peer.sendFirst(ClientMessage.auth(home: settings.home, token: nil).text)
            } catch {
                let why = await NodeAPIError.webSocket(error, to: endpoint, timeoutSeconds: options.timeout)
                throw fail(why.description, code: why.exitCode)
            }
            // The greeting is part of the set-up: it comes within --timeout, or the node is not answering.
            let greeted = try await withDeadline(settings.timeout) { () throws -> Bool in
                while let message = await peer.next() {
                    if case .close(let code, let reason) = message {
                        throw fail(NodeAPIError.closed(start, code: code, reason: reason).description)
                    }
                    guard case .text(let text) = message, let event = ReceivedEvent.decode(text) else { continue }
                    Self.show(.event(from: start, event, raw: text), json: options.json)
                    if event.type == "error" {
                        await peer.close()
                        throw fail("\(start) refused: \(event.content.message ?? "error")")
                    }
                    if event.type == "nodeList" { return true }
                }
                return false
            }
            await peer.close()
            guard greeted == true else {
                let why = greeted == nil ? "did not answer auth within \(options.timeout) s" : "closed the connection before its greeting"
                throw fail(NodeAPIError.notAshita(start, detail: why).description, code: Exit.unavailable)
            }
        }

        static func show(_ notice: MeshWalker.Notice, json: Bool) {
            switch notice {
            case .event(let from, let event, let raw):
                if json {
                    printLine(Self.eventLine(from: from, raw: raw))
                } else {
                    let type = Output.clean(event.type)
                    let padded = type + String(repeating: " ", count: max(0, 22 - type.count))
                    printLine("\(from)  \(Output.bold(padded))  \(Output.clean(details(event)))")
                }
            case .connected(let node):
                printError("ashita: connected to \(node)")
            case .lost(let node, let reason, let retry):
                printError("ashita: lost \(node) (\(reason)); retrying in \(seconds(retry / .seconds(1)))")
            case .notFollowing(let node, let reason):
                printError("ashita: not following \(node): \(reason)")
            }
        }

        /// `{"content":{...},"from":"ADDR","type":"..."}`, keys sorted like the node's own frames.
        static func eventLine(from: NodeAddress, raw: String) -> String {
            guard case .object(var fields)? = try? JSONDecoder().decode(JSONValue.self, from: Data(raw.utf8)) else { return raw }
            fields["from"] = .string(from.description)
            return jsonLine(JSONValue.object(fields))
        }

        static func details(_ event: ReceivedEvent) -> String {
            let c = event.content
            switch event.type {
            case "nodeConnected", "nodeOperatorConnected":
                return [c.nodeIp, c.id.map { "id \($0.prefix(12))" }, c.version.map { "version \($0)" }].compactMap { $0 }.joined(separator: " ")
            case "nodeList":
                return (c.nodeList ?? []).isEmpty ? "(no peers)" : (c.nodeList ?? []).joined(separator: " ")
            case "error":
                return "\(c.code ?? "?"): \(c.message ?? "")"
            default:
                return c.nodeIp ?? ""
            }
        }
    }
}
