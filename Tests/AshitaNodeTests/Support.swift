import AshitaTestSupport
import AshitaClient
import AshitaCore
import AshitaNode
import Foundation
import Logging
import NIOPosix
import Testing

let testLogger = Logger(label: "ashita.test")

/// Starts `count` nodes on ephemeral loopback ports, runs `body`, then shuts them down and waits for them.
/// Announcement checks are off unless `configure` turns them on: most tests announce homes where no node runs.
func withNodes<T: Sendable>(
    _ count: Int, dataDirectories: [String]? = nil, logger: Logger = testLogger,
    configure: (inout NodeConfiguration) -> Void = { _ in }, _ body: @Sendable ([NodeServer]) async throws -> T
) async throws -> T {
    // Loops of their own: a test that loads its node's loops must not stall the nodes of tests running beside it.
    let loops = MultiThreadedEventLoopGroup(numberOfThreads: 1)
    // The nodes are gone (deinitialised) before their loops shut down.
    let result: Result<T, any Error>
    do {
        result = .success(
            try await withNodes(count, on: loops, dataDirectories: dataDirectories, logger: logger, configure: configure, body))
    } catch {
        result = .failure(error)
    }
    try await loops.shutdownGracefully()
    return try result.get()
}

private func withNodes<T: Sendable>(
    _ count: Int, on loops: MultiThreadedEventLoopGroup, dataDirectories: [String]?, logger: Logger,
    configure: (inout NodeConfiguration) -> Void, _ body: @Sendable ([NodeServer]) async throws -> T
) async throws -> T {
    var servers: [NodeServer] = []
    for i in 0..<count {
        var configuration = NodeConfiguration(
            host: "127.0.0.1", port: 0, dataDirectory: DataDirectory(path: dataDirectories?[i] ?? temporaryDirectory()))
        configuration.eventLoopGroup = loops
        configuration.limits.verifyAnnouncements = false
        // Checks where they are on: a slow machine running the whole suite must not make a loopback check time
        // out (tests of the timeout set their own).
        configuration.limits.verifyTimeout = .seconds(20)
        // Likewise the auth deadline: in CI's whole suite on two cores a test's client can wait longer than the
        // default 10 s between its connect and its auth, and then fails with "I/O on closed channel".
        configuration.limits.authTimeout = .seconds(120)
        configure(&configuration)
        servers.append(try await NodeServer.start(configuration, logger: logger))
    }
    let started = servers
    return try await withThrowingTaskGroup(of: Void.self) { group in
        for server in started { group.addTask { try await server.run() } }
        let result: Result<T, any Error>
        do {
            result = .success(try await body(started))
        } catch {
            result = .failure(error)
        }
        for server in started { await server.shutdown() }
        try await group.waitForAll()
        return try result.get()
    }
}

func withNode<T: Sendable>(
    configure: (inout NodeConfiguration) -> Void = { _ in }, _ body: @Sendable (NodeServer) async throws -> T
) async throws -> T {
    try await withNodes(1, configure: configure) { try await body($0[0]) }
}

extension NodeServer {
    var url: String { "http://127.0.0.1:\(localPort)" }
    var name: String { address.description }
}

extension WebSocketPeer {
    static func to(_ node: NodeServer, path: String = "/") async throws -> WebSocketPeer {
        try await local(port: node.localPort, path: path)
    }

    /// The original page's `ashita.signal.auth`.
    func auth(_ home: String?, token: String? = nil) async throws {
        var object: [String: Any] = ["type": "auth", "content": token.map { ["token": $0] } ?? [String: String]()]
        if let home { object["node"] = home }
        try await sendFirst(String(decoding: try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]), as: UTF8.self))
    }

    /// The next message, whatever it is; nil when the connection ended.
    func nextMessage() async throws -> WebSocketMessage? {
        try await within(10, "a message on \(target)") { await self.next() }
    }

    /// Reads until the node closes, expecting its close frame to carry exactly `expected`'s code and reason.
    func expectClose(_ expected: CloseReason, sourceLocation: SourceLocation = #_sourceLocation) async throws {
        while let message = try await nextMessage() {
            if case .close(let code, let reason) = message {
                #expect(code == expected.code && reason == expected.reason, "closed with \(String(describing: code)) \(reason)", sourceLocation: sourceLocation)
                return
            }
        }
        Issue.record("connection ended without a close frame", sourceLocation: sourceLocation)
    }

    /// Connects and authenticates, consuming the `nodeConnected` and `nodeList` answers.
    static func joined(_ node: NodeServer, home: String?) async throws -> WebSocketPeer {
        let peer = try await to(node)
        try await peer.auth(home)
        try await peer.expect("nodeConnected")
        try await peer.expect("nodeList")
        return peer
    }
}

func getJSON(_ url: String) async throws -> [String: Any] {
    let response = try await CurlHTTPClient().get(url)
    return try #require(try JSONSerialization.jsonObject(with: Data(response.body)) as? [String: Any])
}

func peerNames(_ node: NodeServer) async throws -> [String] {
    let list = try await getJSON("\(node.url)/api/v1/peers")
    return (list["peers"] as? [[String: Any]] ?? []).compactMap { $0["node"] as? String }
}

/// A logger that keeps what it is told, for tests that check what a node logs.
final class LogRecorder: LogHandler, @unchecked Sendable {
    // @unchecked: `lines` is only touched under `lock`; the rest is set once.
    private let lock = NSLock()
    private var lines: [String] = []
    var metadata: Logger.Metadata = [:]
    var logLevel: Logger.Level = .info

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        let details = (event.metadata ?? [:]).sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " ")
        lock.withLock { lines.append("\(event.level) \(event.message) \(details)") }
    }

    var recorded: [String] { lock.withLock { lines } }

    var logger: Logger { Logger(label: "ashita.test.recorded") { _ in self } }
}

/// The `nodeConnected` frame `node` sends, byte for byte (keys sorted, as the protocol has them).
func connectedFrame(_ node: NodeServer) -> String {
    #"{"content":{"id":"\#(node.id)","nodeIp":"\#(node.name)","tls":false,"version":"\#(ashitaVersion)"},"type":"nodeConnected"}"#
}
