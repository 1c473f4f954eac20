import AshitaCore

/// A headless client joining the mesh the way the browser page does: a socket to a node, `auth` with its
/// home, and, when following, a socket to every node it hears of, up to a limit. A lost node is retried with
/// backoff. Cancelling `run` closes every socket with a close frame, so nodes announce `nodeLeft` at once.
public actor MeshWalker {
    public enum Notice: Sendable {
        /// An event and the node it came from, with the frame as the node sent it.
        case event(from: NodeAddress, ReceivedEvent, raw: String)
        case connected(NodeAddress)
        case lost(NodeAddress, reason: String, retryIn: Duration)
        case notFollowing(NodeAddress, reason: String)
    }

    public struct Settings: Sendable {
        public var home: NodeAddress?
        public var follow = true
        public var maxConnections = 32
        public var timeout: Duration = .seconds(5)
        /// PEM CA certificates to trust for TLS nodes.
        public var caFile: String?

        public init(home: NodeAddress?) { self.home = home }
    }

    private let settings: Settings
    private let notices: AsyncStream<Notice>.Continuation
    private var policy: FollowPolicy
    /// Nodes announced as speaking TLS (and the first node, if given as https://).
    private var speaksTLS: Set<NodeAddress> = []
    private var opening: AsyncStream<NodeAddress>.Continuation?

    public init(_ settings: Settings, notices: AsyncStream<Notice>.Continuation) {
        self.settings = settings
        self.notices = notices
        self.policy = FollowPolicy(maxConnections: settings.maxConnections)
    }

    /// Runs until cancelled. Throws only when the first node cannot be reached at all.
    public func run(from endpoint: NodeEndpoint) async throws {
        let start = endpoint.address
        if endpoint.tls { speaksTLS.insert(start) }
        let (toOpen, opener) = AsyncStream.makeStream(of: NodeAddress.self)
        opening = opener
        let first = try await connect(start)
        policy.start(start)
        await withDiscardingTaskGroup { group in
            group.addTask { await self.session(start, peer: first) }
            for await address in toOpen {
                group.addTask { await self.session(address, peer: nil) }
            }
        }
    }

    private func connect(_ node: NodeAddress) async throws -> WebSocketPeer {
        let peer = try await WebSocketPeer.connect(
            host: node.bareHost, port: node.port, timeout: settings.timeout, tls: speaksTLS.contains(node),
            caFile: settings.caFile)
        try await peer.sendFirst(ClientMessage.auth(home: settings.home, token: nil).text)
        return peer
    }

    /// One node's socket, reconnecting after losses until cancelled.
    private func session(_ node: NodeAddress, peer first: WebSocketPeer?) async {
        var peer = first
        var delay = Duration.milliseconds(500)
        while !Task.isCancelled {
            if peer == nil {
                do {
                    peer = try await connect(node)
                } catch {
                    notices.yield(.lost(node, reason: "\(error)", retryIn: delay))
                    try? await Task.sleep(for: delay)
                    delay = min(delay * 2, .seconds(10))
                    continue
                }
            }
            guard let current = peer else { continue }
            notices.yield(.connected(node))
            delay = .milliseconds(500)
            var lostBecause = "connection closed"
            while let message = await current.next() {
                switch message {
                case .text(let text):
                    guard let event = ReceivedEvent.decode(text) else { continue }
                    notices.yield(.event(from: node, event, raw: text))
                    follow(event, from: node)
                case .close(let code, let reason):
                    lostBecause = "closed with \(code.map(String.init) ?? "no code")\(reason.isEmpty ? "" : ": \(reason)")"
                case .binary:
                    continue
                }
            }
            if Task.isCancelled {
                await current.close(code: 1000)
                return
            }
            await current.abort()
            peer = nil
            notices.yield(.lost(node, reason: lostBecause, retryIn: delay))
            try? await Task.sleep(for: delay)
            delay = min(delay * 2, .seconds(10))
        }
        await peer?.close(code: 1000)
    }

    /// Opens a socket to announced nodes, as `FollowPolicy` allows.
    private func follow(_ event: ReceivedEvent, from announcer: NodeAddress) {
        var announced: [(address: String, id: String?)] = []
        switch event.type {
        case "nodeConnected":
            if let id = event.content.id { policy.identified(announcer, id: id) }
            return
        case "nodeDiscovered":
            guard let address = event.content.nodeIp else { return }
            announced = [(address, event.content.id)]
            if event.content.tls == true, let parsed = try? NodeAddress(parsing: address) { speaksTLS.insert(parsed) }
        case "nodeList":
            // `nodes` carries the ids; `nodeList` is the original's list of addresses.
            let details = event.content.nodes ?? []
            for node in details where node.tls == true {
                if let address = try? NodeAddress(parsing: node.nodeIp) { speaksTLS.insert(address) }
            }
            let ids = Dictionary(details.map { ($0.nodeIp, $0.id) }, uniquingKeysWith: { first, _ in first })
            announced = (event.content.nodeList ?? []).map { ($0, ids[$0] ?? nil) }
        default:
            return
        }
        guard settings.follow else { return }
        for (text, id) in announced {
            guard let address = try? NodeAddress(parsing: text) else { continue }
            switch policy.consider(address, id: id, announcedBy: announcer) {
            case .follow:
                opening?.yield(address)
            case .known:
                continue
            case .sameNode(let other):
                notices.yield(.notFollowing(address, reason: "the same node as \(other) (id \(id?.prefix(12) ?? ""))"))
            case .announcerLimit:
                notices.yield(.notFollowing(address, reason: "already \(policy.perAnnouncer) nodes followed on the word of \(announcer)"))
            case .full:
                notices.yield(.notFollowing(address, reason: "already \(settings.maxConnections) connections (--max-connections)"))
            }
        }
    }
}
