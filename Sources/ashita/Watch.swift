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
    struct Watch: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Stream a node's events as they happen.",
            discussion: """
                One line per event: local time (TZ respected) and its zone, type, details; with --json one JSON \
                object per line (NDJSON) with id, time (RFC 3339, UTC), type and content. When the node goes away or restarts, watch says so on stderr, retries \
                with backoff and resumes after the last event it printed, never printing one twice. Stops on \
                SIGINT or SIGTERM (exit 0), or after --count events.
                """)

        @OptionGroup var options: NodeOptions

        @Option(
            help: ArgumentHelp("Only these event types, comma-separated (e.g. nodeDiscovered,nodeLeft).", valueName: "types"),
            completion: .custom { _, _, typed in completeTypes(typed) })
        var types: String?

        @Option(parsing: .unconditional, help: ArgumentHelp("Exit after this many events.", valueName: "n"))
        var count: Int?

        @Flag(help: "First print the events the node still holds (its last 1024), then follow.")
        var replay = false

        func validate() throws {
            if let count, count < 1 { throw ValidationError("--count must be at least 1, got \(count)") }
            if let types {
                guard !types.split(separator: ",").isEmpty else {
                    throw ValidationError("--types names no event type; known: \(JournalType.all.joined(separator: ","))")
                }
                let unknown = types.split(separator: ",").map(String.init).filter { !JournalType.all.contains($0) }
                if let first = unknown.first {
                    throw ValidationError("unknown event type '\(first)'; known: \(JournalType.all.joined(separator: ","))")
                }
            }
        }

        func run() async throws {
            let node = options.node
            let query = types.map { "?types=\($0)" } ?? ""
            let url = "\(options.endpoint.httpBase)/api/v1/events\(query)"
            let client = CurlHTTPClient(timeoutSeconds: options.timeout, caFile: options.cacert)
            let (json, limit, replay) = (options.json, count, replay)
            let (endpoint, timeout) = (options.endpoint, options.timeout)
            try await untilSignalled {
                var state = EventStreamPosition(replay: replay)
                var delay = 0.5
                func tell(_ notice: EventStreamPosition.Notice?) {
                    switch notice {
                    case .reconnected: printError("ashita: reconnected to \(node)")
                    case .restarted: printError("ashita: \(node) restarted; events from its new run follow")
                    case nil: break
                    }
                }
                while !Task.isCancelled {
                    do {
                        for try await item in EventStreamReader.open(url, lastEventID: state.lastID, client: client) {
                            let (first, notice) = state.connected()
                            if first { delay = 0.5 }
                            tell(notice)
                            switch item {
                            case .position(let id):
                                state.start(at: id)
                            case .comment(let text):
                                if text.hasPrefix("some events") { printError("ashita: \(node): \(text)") }
                            case .event(let event):
                                let (isNew, notice) = state.take(event.id)
                                tell(notice)
                                guard isNew else { continue }
                                printLine(json ? event.data : Self.describe(event))
                                if let limit, state.taken >= limit { return }
                            }
                        }
                        if Task.isCancelled { return }
                        printError("ashita: \(node) ended the event stream; reconnecting in \(seconds(delay))")
                    } catch let error as HTTPClientError {
                        if case .stopped = error { return }
                        if case .tls(_, let why) = error {
                            throw fail(NodeAPIError.tls(node, reason: why).description, code: Exit.unavailable)
                        }
                        guard state.everConnected else {
                            let code = if case .unreachable(_, _, let code) = error { code } else { 0 }
                            let why = await NodeAPIError.unreachable(endpoint, reason: reason(error), curlCode: code, timeoutSeconds: timeout)
                            throw fail(why.description, code: why.exitCode)
                        }
                        printError("ashita: lost \(node) (\(reason(error))); retrying in \(seconds(delay))")
                    } catch let error as EventStreamReader.Failure {
                        throw fail(NodeAPIError.notAshita(node, detail: "\(error)").description, code: Exit.unavailable)
                    }
                    state.disconnected()
                    try? await Task.sleep(for: .milliseconds(Int(delay * 1000)))
                    delay = min(delay * 2, 10)
                }
            }
        }

        /// Completions of a comma-separated list of types: the types not yet in it that start as its last one does.
        static func completeTypes(_ typed: String) -> [String] {
            let head = typed.lastIndex(of: ",").map { String(typed[...$0]) } ?? ""
            let partial = typed.dropFirst(head.count)
            let listed = Set(head.split(separator: ",").map(String.init))
            return JournalType.all.filter { $0.hasPrefix(partial) && !listed.contains($0) }.map { head + $0 }
        }

        /// `07:31:02  nodeDiscovered  127.0.0.1:9000`
        static func describe(_ event: ServerSentEvent) -> String {
            struct Line: Decodable {
                var time: String
                var type: String
                var content: JournalContent
            }
            guard let line = try? JSONDecoder().decode(Line.self, from: Data(event.data.utf8)) else { return Output.clean(event.data) }
            let c = line.content
            var details: [String] = []
            if let nodeIp = c.nodeIp { details.append(nodeIp) }
            if let id = c.id { details.append("id \(id.prefix(12))") }
            if let client = c.client { details.append("client \(client)") }
            if let remote = c.remote { details.append("from \(remote)") }
            if line.type == JournalType.clientAuthenticated { details.append(c.home.map { "home \($0)" } ?? "observer") }
            else if let home = c.home { details.append("home \(home)") }
            if c.operator == true { details.append("operator") }
            if let code = c.code { details.append("code \(code)") }
            if let message = c.message { details.append("(\(message))") }
            let type = Output.clean(line.type)
            let padded = type + String(repeating: " ", count: max(0, 22 - type.count))
            let clock = Output.clean(Output.clock(line.time))
            return "\(Output.dim(clock))  \(Output.bold(padded))  \(Output.clean(details.joined(separator: " ")))"
        }
    }
}

func reason(_ error: HTTPClientError) -> String {
    switch error {
    case .unreachable(_, let reason, _), .transfer(_, let reason, _), .tls(_, let reason): reason
    default: error.description
    }
}

func seconds(_ value: Double) -> String {
    value < 1 ? "\(Int(value * 1000))ms" : "\(Int(value))s"
}
