import AshitaClient
import AshitaCore
import Logging
import NIOCore
import NIOWebSocket

/// The node's one owner of mesh state: it feeds what connections receive into the pure `Mesh` and carries out
/// the effects, in order. Sending never waits on a socket: frames go to the event loops in batches.
actor MeshHub {
    private var mesh: Mesh
    private var clients: [ClientID: ClientSink] = [:]
    private var sinks = ClientSinks()
    private var flushQueued = false
    private var subscribers: [UInt64: EventSubscriber] = [:]
    private var nextClientID: ClientID = 1
    private var nextSubscriberID: UInt64 = 1
    private var shuttingDown = false
    private let logger: Logger
    private let started = monotonicSeconds()
    let limits: NodeLimits

    init(configuration: MeshConfiguration, limits: NodeLimits, logger: Logger) {
        let boot = String(Timestamp.now().milliseconds, radix: 36)
        self.mesh = Mesh(configuration: configuration, boot: boot)
        self.limits = limits
        self.logger = logger
    }

    var identity: NodeIdentity { mesh.configuration.identity }

    // MARK: WebSocket clients

    /// Registers a connection; nil while the node is shutting down.
    func connect(remote: String, client: ClientSink) -> ClientID? {
        guard !shuttingDown else { return nil }
        let id = nextClientID
        nextClientID += 1
        clients[id] = client
        apply(mesh.connect(id, remote: remote, at: .now()))
        return id
    }

    func receive(_ id: ClientID, _ frame: InboundFrame) {
        apply(mesh.receive(id, frame, at: .now()))
    }

    func rejectOversized(_ id: ClientID) {
        apply(mesh.rejectOversized(id, size: limits.maxFrameBytes + 1, limit: limits.maxFrameBytes, at: .now()))
    }

    func disconnect(_ id: ClientID) {
        clients[id] = nil
        apply(mesh.disconnect(id, at: .now()))
    }

    /// Closes every client with 1001 and ends every event stream. Connections finish on their own.
    func shutdown() {
        shuttingDown = true
        for client in clients.values { sinks.close(client.channel, .goingAway) }
        sinks.submit()
        for subscriber in subscribers.values { subscriber.continuation.finish() }
        subscribers = [:]
    }

    private func apply(_ effects: [MeshEffect]) {
        for effect in effects {
            switch effect {
            case .send(let event, let id):
                deliver(frame(event), to: id)
            case .fanOut(let event, let ids):
                let shared = frame(event)
                for id in ids { deliver(shared, to: id) }
            case .close(let id, let reason):
                logger.debug("closing client", metadata: ["client": "\(id)", "code": "\(reason.code)"])
                if let client = clients[id] { sinks.close(client.channel, reason) }
            case .journal(let entry):
                publish(entry)
            }
        }
        if effects.contains(where: { if case .close = $0 { true } else { false } }) {
            // A close must reach the socket before the connection task closes it.
            sinks.submit()
        } else {
            queueFlush()
        }
    }

    /// Hands what the hub wrote to the event loops once the messages already waiting on this actor are handled:
    /// under load a burst of auths then costs each client one flush (one syscall) instead of one per frame; when
    /// idle it costs one actor hop.
    private func queueFlush() {
        guard !flushQueued else { return }
        flushQueued = true
        // Unstructured on purpose: it is a turn of this actor's own queue, not work to await.
        Task { self.flush() }
    }

    private func flush() {
        flushQueued = false
        sinks.submit()
    }

    private func deliver(_ frame: ByteBuffer, to id: ClientID) {
        if let client = clients[id] { sinks.write(frame, to: client) }
    }

    /// The whole WebSocket frame, encoded once however many clients get it.
    private func frame(_ event: ServerEvent) -> ByteBuffer {
        encodedTextFrame(event.encoded())
    }

    // MARK: Event stream subscribers

    struct EventSubscriber {
        var types: Set<String>?
        var continuation: AsyncStream<JournalEntry>.Continuation
    }

    /// What a new `/api/v1/events` subscriber gets: the backlog after its `Last-Event-ID`, then live entries.
    /// The live stream is bounded; a subscriber that falls behind is ended and resumes with its last id.
    func subscribe(types: Set<String>?, lastEventID: String?)
        -> (backlog: [JournalEntry], missed: Bool, position: String, live: AsyncStream<JournalEntry>, id: UInt64)?
    {
        guard !shuttingDown else { return nil }
        let (stream, continuation) = AsyncStream.makeStream(
            of: JournalEntry.self, bufferingPolicy: .bufferingOldest(limits.eventStreamBuffer))
        let id = nextSubscriberID
        nextSubscriberID += 1
        subscribers[id] = EventSubscriber(types: types, continuation: continuation)
        let (backlog, missed) = mesh.journal.entries(after: lastEventID)
        return (backlog.filter { types?.contains($0.type) ?? true }, missed, mesh.journal.position, stream, id)
    }

    func unsubscribe(_ id: UInt64) {
        subscribers.removeValue(forKey: id)?.continuation.finish()
    }

    private func publish(_ entry: JournalEntry) {
        logger.debug("event", metadata: ["type": "\(entry.type)", "id": "\(entry.id)"])
        for (id, subscriber) in subscribers where subscriber.types?.contains(entry.type) ?? true {
            if case .dropped = subscriber.continuation.yield(entry) {
                subscriber.continuation.finish()
                subscribers[id] = nil
            }
        }
    }

    // MARK: Reading state for the HTTP API

    func status() -> NodeStatus {
        NodeStatus(
            node: identity.nodeIp, id: identity.id, version: identity.version,
            uptimeSeconds: Int(monotonicSeconds() - started), clients: mesh.clients.count, peers: mesh.peers.count,
            operators: mesh.operatorCount)
    }

    func peerList() -> PeerList {
        PeerList(
            node: identity.nodeIp,
            peers: mesh.peers.map {
                .init(node: $0.address.description, since: $0.since.iso8601, clients: $0.clients.count, direction: "inbound")
            })
    }

    func clientList() -> ClientList {
        ClientList(
            node: identity.nodeIp,
            clients: mesh.clients.values.sorted { $0.id < $1.id }.map { client in
                .init(
                    id: client.id, remote: client.remote, home: client.home??.description,
                    observer: client.home == .some(nil), operator: client.isOperator, since: client.since.iso8601)
            })
    }

    /// Disconnects every client announcing `home`; returns how many.
    func kick(_ home: NodeAddress) -> Int {
        let effects = mesh.kick(home)
        apply(effects)
        return effects.count
    }

    func checkOperatorToken(_ token: String, from remote: String) -> Mesh.TokenCheck {
        mesh.checkOperatorToken(token, from: remote, at: .now())
    }
}

/// Bounds that keep one node's memory in check. Defaults are safe for a node left on the internet.
public struct NodeLimits: Sendable {
    /// Largest WebSocket message accepted (fragments included); larger closes with 1009.
    public var maxFrameBytes = 64 * 1024
    /// Bytes queued for one slow reader before it is closed with 1008 (the channel's high watermark).
    public var outboundBufferBytes = 1 << 20
    /// Journal entries queued for one slow event-stream reader before its stream is ended.
    public var eventStreamBuffer = 1024
    /// Largest HTTP request body read.
    public var maxRequestBodyBytes = 16 * 1024
    /// Seconds between comment heartbeats on an event stream.
    public var eventStreamHeartbeatSeconds = 15

    public init() {}
}
