import AshitaSystem
import AshitaCore
import Logging
import NIOCore
import NIOWebSocket
import Synchronization

/// The node's one owner of mesh state: it feeds what connections receive into the pure `Mesh` and carries out
/// the effects, in order. Sending never waits on a socket: frames go to the event loops in batches.
///
/// It runs on one of the node's event loops (its serial executor), so a fan-out reaches the sockets of that
/// loop without leaving its thread, and those of the other loops with one hop each.
actor MeshHub {
    nonisolated let eventLoop: any EventLoop
    nonisolated var unownedExecutor: UnownedSerialExecutor { eventLoop.executor.asUnownedSerialExecutor() }
    private var mesh: Mesh
    private var sinks = ClientSinks()
    private var flushQueued = false
    private var streams: EventStreams
    /// Where connections take their ids, before they reach the hub.
    nonisolated let clientIDs = ClientIDs()
    private var shuttingDown = false
    private let logger: Logger
    private let clock: NodeClock
    private let started: Duration
    let limits: NodeLimits
    private let publicKeyHex: String
    let verifier: AnnouncementVerifier
    private var knownNodes: KnownNodesBook
    /// The known-nodes file's writer, whose loop the node's run owns.
    let knownNodesWriter: StateFileWriter
    /// The bans file's writer, likewise.
    let bansWriter: StateFileWriter

    init(
        configuration: MeshConfiguration, limits: NodeLimits, key: NodeKey, knownNodes: KnownNodes,
        knownNodesWriter: StateFileWriter, bans: BanList, bansWriter: StateFileWriter, verifier: AnnouncementVerifier,
        clock: NodeClock, eventLoop: any EventLoop, logger: Logger
    ) {
        self.eventLoop = eventLoop
        self.clock = clock
        self.started = clock.monotonic()
        let boot = String(clock.wall().milliseconds, radix: 36)
        self.mesh = Mesh(configuration: configuration, boot: boot, bans: bans)
        self.bansWriter = bansWriter
        self.limits = limits
        self.streams = EventStreams(limits: limits)
        self.publicKeyHex = Hex.encode(key.publicKey)
        self.knownNodes = KnownNodesBook(knownNodes, writer: knownNodesWriter, logger: logger)
        self.knownNodesWriter = knownNodesWriter
        self.verifier = verifier
        self.logger = logger
    }

    var identity: NodeIdentity { mesh.configuration.identity }

    // MARK: WebSocket clients

    /// Runs `work` on the hub's event loop, isolated to the hub, after everything enqueued before it: how a
    /// channel handler reaches the hub, with no task.
    nonisolated func enqueue(_ work: @escaping @Sendable (isolated MeshHub) -> Void) {
        eventLoop.execute { self.assumeIsolated { work($0) } }
    }

    /// Registers a connection with an id from `clientIDs`; false while the node is shutting down.
    func connect(_ id: ClientID, remote: String, client: ClientSink) -> Bool {
        guard !shuttingDown else { return false }
        sinks.register(id, client)
        apply(mesh.connect(id, remote: remote, at: clock.wall()))
        return true
    }

    /// What a frame did, for the connection: whether a control frame is within the rate (so it is
    /// answered), whether the client is now authenticated, and whether the node is closing it (then nothing
    /// more it sends matters).
    struct FrameOutcome {
        var accepted: Bool
        var authenticated: Bool
        var closing: Bool
    }

    func receive(_ id: ClientID, _ frame: InboundFrame) -> FrameOutcome {
        guard sinks.isOpen(id) else { return FrameOutcome(accepted: false, authenticated: false, closing: true) }
        let effects = mesh.receive(id, frame, at: clock.wall())
        apply(effects)
        return FrameOutcome(
            accepted: effects.isEmpty, authenticated: mesh.clients[id]?.isAuthenticated ?? false, closing: sinks.isClosing(id))
    }

    /// `--auth-timeout` after the connection opened: closes it if it has not sent `auth`.
    func authDeadlinePassed(_ id: ClientID) {
        apply(mesh.authDeadlinePassed(id))
    }

    func rejectOversized(_ id: ClientID) {
        apply(mesh.rejectOversized(id, size: limits.maxFrameBytes + 1, limit: limits.maxFrameBytes, at: clock.wall()))
    }

    /// The connection ended; `closedWith` is the reason when the connection itself closed it (a protocol error).
    func disconnect(_ id: ClientID, closedWith edgeReason: CloseReason? = nil) {
        let reason = sinks.forget(id) ?? edgeReason
        apply(mesh.disconnect(id, closedWith: reason, at: clock.wall()))
    }

    /// Closes every client with 1001, ends every event stream, stops the checks and finishes the known-nodes
    /// writer (the node's run waits for it to reach the disk). Connections finish on their own.
    func shutdown() {
        guard !shuttingDown else { return }
        shuttingDown = true
        sinks.closeAll(.goingAway)
        sinks.submit()
        streams.endAll()
        verifier.stop()
        knownNodesWriter.finish()
        bansWriter.finish()
    }

    /// A member of the mesh between nodes changed state (the link hub's report).
    func memberChanged(_ record: MemberRecord, previous: MemberState?) {
        guard !shuttingDown else { return }
        apply(mesh.memberChanged(record, previous: previous, at: clock.wall()))
    }

    // MARK: Verifying announcements

    private func verify(_ address: NodeAddress, announcer: String) {
        verifier.submit(address, announcer: announcer, known: knownNodes.contains(address))
    }

    /// What the check of `address` found (the verifier's report). Like every change of the hub's state, it runs
    /// to its end without suspending.
    func report(_ address: NodeAddress, _ result: AnnouncementChecks.Outcome) {
        guard !shuttingDown else { return }
        switch result {
        case .success(let facts):
            if facts.id != nil, facts.id != identity.id {
                knownNodes.record(address, facts, at: clock.wall())
            }
            apply(mesh.verified(address, facts, at: clock.wall()))
        case .failure(let failure):
            apply(mesh.verificationFailed(address, reason: failure.reason, at: clock.wall()))
        }
    }

    private func apply(_ effects: [MeshEffect]) {
        for effect in effects {
            switch effect {
            case .send(let event, let id):
                sinks.write(frame(event), to: id)
            case .fanOut(let event, let ids):
                let shared = frame(event)
                for id in ids { sinks.write(shared, to: id) }
            case .close(let id, let reason):
                logger.debug("closing client", metadata: ["client": "\(id)", "code": "\(reason.code)"])
                sinks.close(id, reason)
            case .journal(let entry):
                publish(entry)
            case .verify(let address, let announcer):
                verify(address, announcer: announcer)
            }
        }
        // A close goes to the socket's loop at once, ahead of whatever the connection reads next; at shutdown
        // nothing may be left queued on the loop once the node's run returns. A batch that has grown to
        // `maxBatch` goes at once too: when a thousand clients leave together, each departure told to all the
        // others, waiting for the end of the loop's queue would gather half a million writes (18 MiB of
        // operations, measured with valgrind's massif) where a few thousand already cost each socket one flush.
        if shuttingDown || sinks.pendingCount >= Self.maxBatch
            || effects.contains(where: { if case .close = $0 { true } else { false } })
        {
            sinks.submit()
        } else {
            queueFlush()
        }
    }

    /// Writes gathered before they go to the event loops regardless of what else waits on the hub's loop.
    static let maxBatch = 32768

    /// Returns once the work enqueued before it is done: at shutdown, the last connections' goodbyes.
    func drained() {}

    /// Hands what the hub wrote to the event loops once the work already waiting on the hub's loop is done:
    /// under load a burst of auths then costs each client one flush (one syscall) instead of one per frame; when
    /// idle it costs one turn of the loop.
    private func queueFlush() {
        guard !flushQueued else { return }
        flushQueued = true
        enqueue { $0.flush() }
    }

    private func flush() {
        flushQueued = false
        sinks.submit()
    }

    /// The whole WebSocket frame, encoded once however many clients get it.
    private func frame(_ event: ServerEvent) -> ByteBuffer {
        encodedTextFrame(event.encoded())
    }

    // MARK: Event stream subscribers

    /// What a new `/api/v1/events` subscriber gets: the backlog after its `Last-Event-ID`, then live entries.
    func subscribe(types: Set<String>?, lastEventID: String?, remote: String) -> EventStreams.SubscribeResult {
        guard !shuttingDown else { return .refused(.shuttingDown) }
        return streams.subscribe(types: types, lastEventID: lastEventID, remote: remote, journal: mesh.journal)
    }

    func unsubscribe(_ id: UInt64) {
        streams.unsubscribe(id)
    }

    private func publish(_ entry: JournalEntry) {
        logger.debug("event", metadata: ["type": "\(entry.type)", "id": "\(entry.id)"])
        streams.publish(entry)
    }

    // MARK: Reading state for the HTTP API

    /// This node as `/api/v1/node` describes it (a challenge's signature is the router's to add).
    func status() -> NodeStatus {
        mesh.status(uptimeSeconds: Int((clock.monotonic() - started).components.seconds), publicKey: publicKeyHex)
    }

    func peerList(all: Bool = false) -> PeerList { mesh.peerList(all: all) }

    func clientList() -> ClientList { mesh.clientList() }

    /// Disconnects every client announcing `home`; returns how many.
    func kick(_ home: NodeAddress) -> Int {
        let effects = mesh.kick(home)
        apply(effects)
        return effects.count
    }

    /// Disconnects one client by id; whether it was connected.
    func kick(client id: ClientID) -> Bool {
        let effects = mesh.kick(client: id)
        apply(effects)
        return !effects.isEmpty
    }

    /// The remote address (as bans count it) and home of a connected client.
    func banTargets(of id: ClientID) -> (address: String, home: NodeAddress?)? { mesh.banTargets(of: id) }

    var isShuttingDown: Bool { shuttingDown }

    /// Bans `target` for `seconds` (disconnecting whoever it covers) and saves the list; nil when the list is full
    /// or the node is shutting down (its writer is finished: the ban would not be kept).
    func ban(_ kind: BanList.Kind, _ target: String, seconds: Int64) -> (ban: BanList.Ban, disconnected: Int)? {
        guard !shuttingDown else { return nil }
        let now = clock.wall()
        let end = now.adding(milliseconds: seconds * 1000)
        let (result, effects) = mesh.ban(kind, target, until: end, at: now)
        guard result == .added else { return nil }
        apply(effects)
        saveBans(at: now)
        return (BanList.Ban(kind: kind, target: target, until: end.iso8601), effects.count)
    }

    /// Whether a ban was lifted; nil while the node is shutting down (it could not be saved).
    func unban(_ kind: BanList.Kind, _ target: String) -> Bool? {
        guard !shuttingDown else { return nil }
        let now = clock.wall()
        let removed = mesh.unban(kind, target, at: now)
        if removed { saveBans(at: now) }
        return removed
    }

    func banList() -> BanDocument { BanDocument(bans: mesh.bans.list(at: clock.wall())) }

    private func saveBans(at now: Timestamp) {
        bansWriter.save(BansFile.encoded(mesh.bans, at: now))
    }

    func checkOperatorToken(_ token: String, from remote: String) -> Mesh.TokenCheck {
        mesh.checkOperatorToken(token, from: remote, at: clock.wall())
    }
}

/// Client ids, unique for the node's life, taken by connections on any thread.
final class ClientIDs: Sendable {
    private let last = Atomic<ClientID>(0)

    func next() -> ClientID { last.add(1, ordering: .relaxed).newValue }
}
