import AshitaSystem
import AshitaCore
import Logging
import NIOCore
import NIOExtras
import NIOHTTP1
import NIOPosix
import NIOSSL
import NIOWebSocket

/// A running node: HTTP, WebSocket and server-sent events on one port.
///
/// `start` returns once the socket listens (so the caller can say so truthfully); `run` serves until
/// `shutdown`, which closes every WebSocket with 1001 and every event stream, then returns.
public final class NodeServer: Sendable {
    public let address: NodeAddress
    public let localPort: Int
    public let dataDirectory: DataDirectory
    /// The node's id, derived from its Ed25519 public key.
    public let id: String
    public let usesTLS: Bool
    /// This start made the operator token: the data directory's first start.
    public let tokenCreated: Bool
    private let lock: DataDirectoryLock
    private let hub: MeshHub
    private let links: LinkHub
    private let join: [NodeAddress]
    private let router: Router
    private let serverChannel: NIOAsyncChannel<EventLoopFuture<Connection>, Never>
    private let logger: Logger
    /// Closes the listener at shutdown and asks every connection to quiesce: NIO's HTTP pipeline closes one
    /// that waits for a request at once, and one with a request under way after its answer.
    private let quiescing: ServerQuiescingHelper
    /// The WebSockets' auth deadlines and heartbeats and the links' transport watches, one timer per event loop.
    private let deadlines: LoopDeadlinesTable

    enum Connection {
        /// Its session waits, reads held, for the node to `attach` it.
        case webSocket(NIOLoopBound<WebSocketSession>, remote: String)
        /// A link from another node, waiting for the link hub to start its greeting.
        case link(NIOLoopBound<LinkSession>, remote: String)
        /// `declined`: a request that asked for an upgrade the node refused; it still needs its answer.
        case http(NIOAsyncChannel<HTTPServerRequestPart, HTTPServerResponsePart>, declined: HTTPRequestHead?, slot: ConnectionSlot)
        /// Over the connection budget: it closes as soon as it is active, unanswered.
        case refused
    }

    public static func start(_ configuration: NodeConfiguration, logger: Logger) async throws -> NodeServer {
        // Files, fsync and flock block: off the cooperative pool, which every connection of the process needs.
        let directory = configuration.dataDirectory
        let now = configuration.clock.wall()
        let contents = try await onDedicatedThread { Result { () throws(FileError) in try directory.open(at: now) } }.get()
        do {
            return try await start(configuration, contents: contents, logger: logger)
        } catch {
            contents.lock.release()
            throw error
        }
    }

    private static func start(
        _ configuration: NodeConfiguration, contents: DataDirectory.Contents, logger: Logger
    ) async throws -> NodeServer {
        let limits = configuration.limits
        let tlsContext = try configuration.tls.map { try $0.makeServerContext() }
        let budget = ConnectionBudget(
            limit: DescriptorLimit.connections(wanted: limits.maxConnections, logger: logger),
            limitPerIP: limits.maxConnectionsPerIP)
        let channel: NIOAsyncChannel<EventLoopFuture<Connection>, Never>
        let quiescing = ServerQuiescingHelper(group: configuration.eventLoopGroup)
        let deadlines = try await LoopDeadlinesTable.make(for: configuration.eventLoopGroup)
        do {
            var bootstrap = ServerBootstrap(group: configuration.eventLoopGroup)
                .serverChannelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.addHandler(quiescing.makeServerChannelHandler(channel: channel))
                    }
                }
            if let bytes = limits.socketSendBufferBytes {
                bootstrap = bootstrap.childChannelOption(.socketOption(.so_sndbuf), value: SocketOptionValue(bytes))
            }
            channel = try await bootstrap
                .serverChannelOption(.backlog, value: 1024)
                .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
                .childChannelOption(.tcpOption(.tcp_nodelay), value: 1)
                // HTTP is read a little at a time: the parser turns everything it is given into requests, which
                // wait in memory while earlier answers are unsent, so what it is given is what can pile up. Reads
                // start at 256 bytes and grow only while they come full. A connection keeps its first read buffer
                // for good (NIO pools it), at the size its largest read grew it to: an idle WebSocket whose upgrade
                // request fitted keeps 256 bytes (with 1 KiB, 10,000 of them held 7.5 MiB more, heaptrack).
                .childChannelOption(
                    .recvAllocator,
                    value: AdaptiveRecvByteBufferAllocator(minimum: 64, initial: 256, maximum: Self.httpReadBytes))
                .childChannelOption(.maxMessagesPerRead, value: 1)
                .childChannelOption(
                    .writeBufferWaterMark,
                    value: .init(low: limits.outboundBufferBytes / 2, high: limits.outboundBufferBytes))
                .bind(host: configuration.host, port: configuration.port) { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try Self.configurePipeline(channel, limits: limits, tls: tlsContext, budget: budget, deadlines: deadlines)
                    }
                }
        } catch let error as IOError {
            throw NodeStartError.cannotListen(host: configuration.host, port: configuration.port, reason: error.localizedReason)
        } catch {
            throw NodeStartError.cannotListen(host: configuration.host, port: configuration.port, reason: "\(error)")
        }
        let localPort = channel.channel.localAddress?.port ?? configuration.port
        let address: NodeAddress
        if let advertised = configuration.advertise {
            address = advertised
        } else {
            do {
                address = try NodeAddress(host: configuration.host, port: localPort)
            } catch {
                try? await channel.channel.close()
                throw NodeStartError.badAdvertisedAddress(error.description)
            }
        }
        let usesTLS = tlsContext != nil
        var meshConfiguration = MeshConfiguration(
            address: address, id: contents.key.id, version: configuration.version,
            operatorToken: contents.operatorToken, tls: usesTLS)
        meshConfiguration.limits = limits.mesh
        for warning in contents.warnings { logger.warning("\(warning)") }
        let verifier = AnnouncementVerifier(
            .init(
                limits: limits.checks,
                policy: AnnouncementPolicy.forNode(at: await Self.ownAddresses(advertised: address), allowing: limits.allowChecksTo),
                timeout: TimeAmount(limits.verifyTimeout), maxAnswerBytes: limits.verifyAnswerBytes,
                clock: configuration.clock),
            logger: logger)
        let meshLoop = configuration.meshEventLoop ?? configuration.eventLoopGroup.next()
        let hub = MeshHub(
            configuration: meshConfiguration, limits: limits, key: contents.key,
            knownNodes: contents.knownNodes,
            knownNodesWriter: StateFileWriter(file: configuration.dataDirectory.knownNodesPath, logger: logger),
            bans: contents.bans, bansWriter: StateFileWriter(file: configuration.dataDirectory.bansPath, logger: logger),
            verifier: verifier, clock: configuration.clock, eventLoop: meshLoop, logger: logger)
        let links = LinkHub(
            configuration: configuration.membership, address: address, key: contents.key, clock: configuration.clock,
            dialer: LinkDialer(
                group: configuration.eventLoopGroup, timeout: TimeAmount(configuration.membership.dialTimeout),
                maxFrameBytes: limits.maxFrameBytes, deadlines: deadlines),
            meshHub: hub, membersWriter: StateFileWriter(file: configuration.dataDirectory.membersPath, logger: logger),
            eventLoop: meshLoop, logger: logger)
        return NodeServer(
            address: address, localPort: localPort, dataDirectory: configuration.dataDirectory, id: contents.key.id,
            usesTLS: usesTLS, tokenCreated: contents.tokenCreated, lock: contents.lock, hub: hub, links: links,
            // Without --join, a restart rejoins where the mesh's members were.
            join: configuration.join.isEmpty ? contents.members : configuration.join,
            router: Router(hub: hub, links: links, page: PageResources(advertised: address), key: contents.key),
            serverChannel: channel,
            quiescing: quiescing, deadlines: deadlines, logger: logger)
    }

    private init(
        address: NodeAddress, localPort: Int, dataDirectory: DataDirectory, id: String, usesTLS: Bool,
        tokenCreated: Bool, lock: DataDirectoryLock, hub: MeshHub, links: LinkHub, join: [NodeAddress], router: Router,
        serverChannel: NIOAsyncChannel<EventLoopFuture<Connection>, Never>, quiescing: ServerQuiescingHelper,
        deadlines: LoopDeadlinesTable, logger: Logger
    ) {
        self.address = address
        self.localPort = localPort
        self.dataDirectory = dataDirectory
        self.id = id
        self.usesTLS = usesTLS
        self.tokenCreated = tokenCreated
        self.lock = lock
        self.hub = hub
        self.links = links
        self.join = join
        self.router = router
        self.serverChannel = serverChannel
        self.quiescing = quiescing
        self.deadlines = deadlines
        self.logger = logger
    }

    /// Serves until `shutdown()`; a failing connection is logged and never takes the node down.
    public func run() async throws {
        defer { lock.release() }
        try await withThrowingTaskGroup(of: Void.self) { owner in
            // The state writer outlives the connections: what the hub saved up to its shutdown reaches the disk
            // before `run` returns.
            owner.addTask { [hub] in await hub.knownNodesWriter.run() }
            owner.addTask { [hub] in await hub.bansWriter.run() }
            owner.addTask { [links] in await links.membersWriter.run() }
            defer {
                links.membersWriter.finish()
                hub.knownNodesWriter.finish()
                hub.bansWriter.finish()
            }
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { [hub] in
                    await hub.verifier.run { address, outcome in await hub.report(address, outcome) }
                }
                await links.start(joining: join)
                try await serveConnections()
                // Also when serving ended without `shutdown()` (the listener failed): clients are told, state saved.
                await links.shutdown()
                await hub.shutdown()
                // WebSockets have no task of their own: the node waits for their sockets to close.
                let closed = serverChannel.channel.eventLoop.makePromise(of: Void.self)
                quiescing.initiateShutdown(promise: closed)
                try? await closed.futureResult.get()
                await hub.drained()
                await deadlines.stopAll()
                group.cancelAll()
            }
        }
    }

    private func serveConnections() async throws {
        try await withThrowingDiscardingTaskGroup { group in
            try await serverChannel.executeThenClose { inbound in
                for try await upgrade in inbound {
                    // On the connection's own event loop, where its socket's reads arrive and writes go.
                    group.addTask(executorPreference: EventLoopTaskExecutor(upgrade.eventLoop)) { [hub, links, router, logger] in
                        do {
                            switch try await upgrade.get() {
                            case .link(let session, let remote):
                                await links.accept(session, from: remote)
                            case .webSocket(let session, let remote):
                                // From here the connection is its pipeline: no task stays with it.
                                let node = WebSocketSession.Node(hub: hub, remote: remote, logger: logger)
                                session.eventLoop.execute { session.value.attach(node) }
                            case .http(let channel, let declined, let slot):
                                await HTTPConnection(
                                    channel: channel, slot: slot, remote: Self.remoteIP(channel.channel), hub: hub, router: router,
                                    logger: logger
                                ).run(answeringFirst: declined)
                            case .refused:
                                break
                            }
                        } catch {
                            logger.debug("connection failed before it began", metadata: ["error": "\(error)"])
                        }
                    }
                }
            }
        }
    }

    /// The addresses this node is reached at, for the kinds of network its checks may contact: the advertised
    /// one (resolved when a name). Not the listen address: a node behind a reverse proxy listens on loopback
    /// but is not on a loopback network as far as strangers are concerned.
    static func ownAddresses(advertised: NodeAddress) async -> [IPAddress] {
        if let ip = advertised.ip { return [ip] }
        let name = advertised.bareHost
        return await onDedicatedThread { AnnouncementVerifier.resolve(name) }
    }

    /// The peer's IP address as the limits and the journal name it.
    static func remoteIP(_ channel: Channel) -> String {
        channel.remoteAddress?.ipAddress ?? "unknown"
    }

    /// Stops accepting, closes every WebSocket with 1001, ends every event stream and quiesces every HTTP
    /// connection; `run` returns once each connection has closed.
    /// Dials these nodes to join the mesh between nodes (what `--join` does at start).
    public func join(_ addresses: [NodeAddress]) async {
        await links.join(addresses)
    }

    /// Every member of the mesh this node knows.
    public func members() async -> MemberList {
        await links.memberList()
    }

    public func shutdown() async {
        await links.shutdown()
        await hub.shutdown()
        quiescing.initiateShutdown(promise: nil)
    }

}

public enum NodeStartError: Error, CustomStringConvertible {
    case cannotListen(host: String, port: Int, reason: String)
    case badAdvertisedAddress(String)
    case badTLSFile(String, String)

    public var description: String {
        switch self {
        case .cannotListen(let host, let port, let reason):
            "cannot listen on \(host):\(port): \(reason) — is another node running there? Pick another port or stop it."
        case .badAdvertisedAddress(let why):
            "cannot advertise this node: \(why); pass --advertise HOST:PORT"
        case .badTLSFile(let file, let problem):
            "\(file) \(problem); give a PEM certificate chain with --tls-cert and its key with --tls-key"
        }
    }
}

extension IOError {
    var localizedReason: String {
        switch errnoCode {
        case EADDRINUSE: "address already in use"
        case EACCES: "permission denied (ports below 1024 need privileges)"
        case EADDRNOTAVAIL: "no such address on this machine"
        default: description
        }
    }
}
