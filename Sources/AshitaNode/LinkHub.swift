import AshitaCore
import Logging
import NIOCore
import NIOPosix
import Synchronization

/// The node's side of the mesh between nodes: it drives the pure `Membership` with what links bring and the
/// clock, and carries out its effects — dials, messages (encoded once however many links get them), closes. Like
/// the `MeshHub` it runs on one event loop, its serial executor, and never suspends in the middle of a change.
actor LinkHub {
    nonisolated let eventLoop: any EventLoop
    /// How long a link may be quiet before its session looks at the transport under it.
    nonisolated let probeTimeout: TimeAmount
    nonisolated var unownedExecutor: UnownedSerialExecutor { eventLoop.executor.asUnownedSerialExecutor() }
    private var membership: Membership
    private let signing: NodeSigning
    private var sessions: [LinkID: NIOLoopBound<LinkSession>] = [:]
    private var peers: [LinkID: String] = [:]
    private nonisolated let linkIDs = Atomic<LinkID>(0)
    private let clock: NodeClock
    private let logger: Logger
    private let dialer: LinkDialer
    /// Where member changes go, for the journal and the node's clients.
    private let meshHub: MeshHub
    /// The one timer: armed for when the membership next has work (`Membership.nextWake`), earlier when
    /// something new needs it sooner.
    private var wake: Scheduled<Void>?
    private var wakeAt: Timestamp?
    private var ticking = false
    private var greetings: GreetingBuckets
    private var lastTick: Timestamp
    private var stopped = false
    /// The members file's writer, whose loop the node's run owns; a changed membership is saved at most once a
    /// second, from the timer.
    let membersWriter: StateFileWriter
    private var membersChanged = false
    private var lastSave: Timestamp

    init(
        configuration: MembershipConfiguration, address: NodeAddress, key: NodeKey, clock: NodeClock, dialer: LinkDialer,
        meshHub: MeshHub, membersWriter: StateFileWriter, eventLoop: any EventLoop, logger: Logger
    ) {
        self.meshHub = meshHub
        self.membersWriter = membersWriter
        self.eventLoop = eventLoop
        self.probeTimeout = TimeAmount(configuration.probeTimeout)
        self.clock = clock
        self.logger = logger
        self.dialer = dialer
        self.signing = NodeSigning(key: key)
        var random = SystemRandomNumberGenerator()
        let now = clock.wall()
        lastSave = now
        greetings = GreetingBuckets(
            rate: configuration.greetingRate, burst: configuration.greetingBurst,
            rateAll: configuration.greetingRateAll, burstAll: configuration.greetingBurstAll, at: now)
        lastTick = now
        // The wall clock's milliseconds: above any incarnation an earlier run of this node used.
        membership = Membership(
            configuration: configuration, address: address, signing: signing, incarnation: UInt64(max(1, now.milliseconds)),
            seed: random.next(), at: now)
    }

    /// Runs `work` on the hub's loop, isolated to it, after everything enqueued before: how handlers reach it.
    nonisolated func enqueue(_ work: @escaping @Sendable (isolated LinkHub) -> Void) {
        eventLoop.execute { self.assumeIsolated { work($0) } }
    }

    nonisolated func nextLinkID() -> LinkID { linkIDs.add(1, ordering: .relaxed).newValue }

    /// Dials `join`, if any, and starts the timers then: a node that never joins nor is joined has nothing to time.
    func start(joining addresses: [NodeAddress]) {
        guard !addresses.isEmpty else { return }
        join(addresses)
    }

    /// The timers, from the first join or link on.
    private func startTicking() {
        guard !ticking, !stopped else { return }
        ticking = true
        rearm()
    }

    /// Arms the timer for the soonest of: the membership's next work, the members file's next save. Keeps an
    /// earlier one already armed.
    private func rearm() {
        guard ticking, !stopped else { return }
        let now = clock.wall()
        var next = membership.nextWake(at: now)
        if membersChanged { next = min(next, lastSave.adding(milliseconds: 1000)) }
        // Never sooner than a quarter gossip interval after the last tick: whatever the membership asks, the timer
        // cannot spin.
        next = max(next, now, lastTick.adding(milliseconds: max(1, membership.configuration.gossipInterval.wholeMilliseconds / 4)))
        if let wakeAt, wakeAt <= next { return }
        wake?.cancel()
        wakeAt = next
        wake = eventLoop.scheduleTask(in: .milliseconds(next.milliseconds - now.milliseconds)) { [weak self] in
            self?.enqueue { $0.tick() }
        }
    }

    /// Dials these addresses too (the operator's `POST /api/v1/join`).
    func join(_ addresses: [NodeAddress]) {
        guard !stopped else { return }
        startTicking()
        apply(membership.join(addresses, at: clock.wall()))
    }

    private func tick() {
        wake = nil
        wakeAt = nil
        guard !stopped else { return }
        let now = clock.wall()
        lastTick = now
        if membersChanged, now.milliseconds - lastSave.milliseconds >= 1000 { saveMembers(at: now) }
        apply(membership.tick(at: now))
    }

    /// The live members' addresses, for a restart to rejoin from.
    private func saveMembers(at now: Timestamp) {
        membersChanged = false
        lastSave = now
        let alive = membership.members.filter {
            $0.record.id != membership.id && ($0.record.state == .alive || $0.record.state == .suspect)
        }
        membersWriter.save(MembersFile.encoded(alive.map(\.record.address)))
    }

    /// A fresh greeting for a new link at this end.
    func handshake(dialer: Bool) -> LinkHandshake {
        var random = SystemRandomNumberGenerator()
        let challenge = (0..<LinkGreeting.challengeBytes).map { _ in UInt8.random(in: .min ... .max, using: &random) }
        return LinkHandshake(
            role: dialer ? .dialer : .acceptor, own: membership.ownRecord, signing: signing, challenge: challenge,
            isolated: membership.linkedPeers.isEmpty)
    }

    /// A new link at the accepting end, before its greeting; one over its address's greeting rate, or over that
    /// of all addresses together, is closed.
    func accept(_ session: NIOLoopBound<LinkSession>, from remote: String) {
        let link = nextLinkID()
        guard !stopped else {
            session.eventLoop.execute { session.value.close(code: 1001, reason: "node is shutting down") }
            return
        }
        guard greetings.admit(remote, at: clock.wall()) else {
            logger.debug("link greeting over the greeting rate", metadata: ["remote": "\(remote)"])
            session.eventLoop.execute { session.value.close(code: 1013, reason: "too many link greetings; try again later") }
            return
        }
        let handshake = handshake(dialer: false)
        session.eventLoop.execute { session.value.attach(self, link: link, handshake: handshake) }
    }

    func linkUp(_ link: LinkID, session: NIOLoopBound<LinkSession>, peer proven: ProvenRecord, isolated: Bool, dialled: NodeAddress?) {
        let peer = proven.record
        guard !stopped else {
            session.eventLoop.execute { session.value.close(code: 1001, reason: "node is shutting down") }
            return
        }
        startTicking()
        sessions[link] = session
        peers[link] = peer.id
        logger.debug("link up", metadata: ["peer": "\(peer.id)", "address": "\(peer.address)"])
        apply(
            membership.linkUp(
                link, record: proven, dialedByUs: dialled != nil, peerIsolated: isolated, address: dialled, at: clock.wall()))
    }

    func receive(_ bytes: [UInt8], on link: LinkID) {
        guard let peer = peers[link] else { return }
        apply(membership.receive(bytes, from: peer, at: clock.wall()))
    }

    func linkDown(_ link: LinkID, lost: Bool) {
        sessions[link] = nil
        guard let peer = peers.removeValue(forKey: link) else { return }
        apply(membership.linkDown(link, peer: peer, lost: lost, at: clock.wall()))
    }

    func dialFailed(_ address: NodeAddress, refused: Bool, broke: Bool = false, reason: String) {
        logger.debug("dial failed", metadata: ["address": "\(address)", "reason": "\(reason)"])
        apply(membership.dialFailed(address, refused: refused, broke: broke, at: clock.wall()))
    }

    /// A dialled link ended before it was up: `lost` without a close frame (the node may have died meanwhile),
    /// otherwise closed on purpose by the other end (or its answer was no upgrade).
    func dialEnded(_ address: NodeAddress, lost: Bool, reason: String) {
        if lost {
            dialFailed(address, refused: false, broke: true, reason: reason)
        } else {
            logger.debug("dial declined", metadata: ["address": "\(address)", "reason": "\(reason)"])
            membership.dialDeclined(address)
        }
    }

    /// The link's session saw its TCP resend data still unacknowledged after a probe timeout of quiet.
    func transportStalled(_ link: LinkID) {
        guard !stopped, let peer = peers[link] else { return }
        logger.debug("link transport stalled", metadata: ["peer": "\(peer)"])
        apply(membership.linkStalled(peer, at: clock.wall()))
    }

    /// The link's session saw its TCP resend data once, still unacknowledged after a probe timeout of quiet.
    func transportDoubtful(_ link: LinkID) {
        guard !stopped, let peer = peers[link] else { return }
        apply(membership.linkDoubtful(peer, at: clock.wall()))
    }

    func greetingFailed(_ reason: String) {
        logger.info("a link's greeting failed", metadata: ["reason": "\(reason)"])
    }

    func memberList() -> MemberList { MemberList(membership) }

    /// Leaves the mesh: every link hears it, signed, and closes; no more dials or timers.
    func shutdown() {
        guard !stopped else { return }
        if membersChanged { saveMembers(at: clock.wall()) }
        apply(membership.leave(at: clock.wall()))
        stopped = true
        wake?.cancel()
        wake = nil
        membersWriter.finish()
    }

    private func apply(_ effects: [MembershipEffect]) {
        for effect in effects {
            switch effect {
            case .dial(let address):
                guard !stopped else { continue }
                dialer.dial(address, hub: self)
            case .send(let message, let to):
                let bytes = message.encoded()
                for peer in to {
                    guard let link = membership.link(to: peer) ?? peers.first(where: { $0.value == peer })?.key else { continue }
                    write(bytes, on: link)
                }
            case .sendOnLink(let message, let link):
                write(message.encoded(), on: link)
            case .closeLink(let link, let reason):
                guard let session = sessions.removeValue(forKey: link) else { continue }
                peers[link] = nil
                session.eventLoop.execute { session.value.close(code: reason == .leaving ? 1001 : 1000, reason: reason.rawValue) }
            case .memberChanged(let record, let previous):
                logger.info(
                    "member \(record.state.rawValue)",
                    metadata: ["id": "\(record.id)", "address": "\(record.address)", "was": "\(previous?.rawValue ?? "unknown")"])
                meshHub.enqueue { $0.memberChanged(record, previous: previous) }
                membersChanged = true
            }
        }
        rearm()
    }

    private func write(_ bytes: [UInt8], on link: LinkID) {
        guard let session = sessions[link] else { return }
        session.eventLoop.execute { session.value.write(bytes) }
    }
}
