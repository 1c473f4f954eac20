import AshitaCore
import AshitaFuzzHarness

/// How the simulated network treats messages between two nodes: links are TCP-like (ordered, nothing lost for
/// good), so loss shows up as a resend after `retransmit`, doubling each time, as TCP does.
struct NetworkConditions {
    var latency: Int64 = 1
    var jitter: Int64 = 0
    var loss = 0.0
    var retransmit: Int64 = 200
}

/// Many `Membership`s on a virtual clock and a virtual network: links open, carry messages in order with delay,
/// jitter and loss, break when a node dies, hang across a partition until it heals; nodes crash, leave, restart
/// and stall. One seed gives one run, event for event: nothing here reads the real clock or an unseeded random.
final class MeshSimulation {
    enum Event {
        case tick(Int)
        case deliver(LinkID, to: Int, LinkMessage)
        case linkOpened(LinkID, at: Int)
        case linkClosed(LinkID, at: Int, lost: Bool)
        case dialRefused(from: Int, NodeAddress)
    }

    /// A link's two ends close separately: what one end sent before closing still reaches the other.
    struct Link {
        var dialer: Int
        var acceptor: Int
        var dialerOpen = true
        var acceptorOpen = true
        func other(_ end: Int) -> Int { end == dialer ? acceptor : dialer }
        func isOpen(at end: Int) -> Bool { end == dialer ? dialerOpen : acceptorOpen }
        mutating func close(at end: Int) {
            if end == dialer { dialerOpen = false } else { acceptorOpen = false }
        }
    }

    /// A class, so that reaching a node's membership never copies it (a copied `Membership` would copy its
    /// tables at the next change).
    final class Node {
        var membership: Membership?
        let address: NodeAddress
        let signing: SimulatedSigning
        let id: String
        var pausedUntil: Int64 = 0
        var group = 0
        var starts = 0
        var up: Bool { membership != nil }

        init(address: NodeAddress, signing: SimulatedSigning, id: String) {
            self.address = address
            self.signing = signing
            self.id = id
        }
    }

    /// A member marked failed, and whether the marked node was up and reachable from the one that marked it.
    struct FailureMark {
        var time: Int64
        var observer: Int
        var subject: Int
        var subjectAnswering: Bool
    }

    let configuration: MembershipConfiguration
    var conditions: NetworkConditions
    var now: Int64 = 0
    var tickInterval: Int64 { configuration.gossipInterval.wholeMilliseconds }
    private(set) var nodes: [Node] = []
    private var byAddress: [NodeAddress: Int] = [:]
    private var byID: [String: Int] = [:]
    private var queue = EventQueue<Event>()
    private var links: [LinkID: Link] = [:]
    private var nextLink: LinkID = 1
    private var random: SeededRandom
    /// When the last message on each link direction arrives, so later ones never overtake it.
    private var lastArrival: [LinkID: [Int64]] = [:]
    /// Events stuck behind a partition, released in order when it heals.
    private var held: [(Event, from: Int)] = []
    /// By sender, then link: from when until when the sender's TCP would say the link stalled (data resent and
    /// unacknowledged) — across a partition until it heals, under loss while a message is being resent. A paused
    /// receiver causes none: its kernel still acknowledges.
    private var stalls: [Int: [LinkID: (from: Int64, until: Int64)]] = [:]
    /// When each link direction last carried data: a quiet one gets a heartbeat, as the node's link sessions send.
    private var lastSent: [LinkID: [Int64]] = [:]
    /// By link direction, when data on the way (messages and heartbeats) arrives, and when the last that arrived
    /// did: a node's link session reports a stall only after a probe timeout with nothing read.
    private var arrivals: [LinkID: [[Int64]]] = [:]
    private var lastRead: [LinkID: [Int64]] = [:]
    /// A running digest of every change any node reported: equal digests, equal runs.
    private(set) var traceDigest: UInt64 = 0xcbf2_9ce4_8422_2325
    private(set) var changes = 0
    private(set) var failureMarks: [FailureMark] = []
    private(set) var messagesDelivered = 0
    /// Member records each node was sent, by node: what tables and gossip cost it.
    private(set) var recordsReceived: [Int: Int] = [:]

    init(nodes count: Int, seed: UInt64, configuration: MembershipConfiguration = MembershipConfiguration(),
        conditions: NetworkConditions = NetworkConditions())
    {
        self.configuration = configuration
        self.conditions = conditions
        self.random = SeededRandom(seed: seed)
        for index in 0..<count {
            let address = try! NodeAddress(parsing: "10.\(index / 250).\(index % 250).1:8000")
            let signing = SimulatedSigning(seed: seed &+ UInt64(index) &* 7919)
            nodes.append(Node(address: address, signing: signing, id: signing.id(ofKey: signing.publicKey)))
            byAddress[address] = index
            byID[nodes[index].id] = index
        }
    }

    // MARK: Driving

    /// Starts node `index` (again, after a crash or leave) and has it join these nodes.
    func start(_ index: Int, joining targets: [Int]) {
        precondition(!nodes[index].up)
        nodes[index].starts += 1
        // An incarnation above any earlier run's, as the node takes it from the wall clock.
        let incarnation = UInt64(now) * 16 + UInt64(nodes[index].starts)
        nodes[index].membership = Membership(
            configuration: configuration, address: nodes[index].address, signing: nodes[index].signing,
            incarnation: incarnation, seed: random.next(), at: Timestamp(milliseconds: now))
        apply(nodes[index].membership!.join(targets.map { nodes[$0].address }, at: stamp), from: index)
        queue.push(.tick(index), at: now + Int64(random.next() % UInt64(tickInterval)))
    }

    /// The process dies: its links break (the peers' kernels see the connection go), dials to it are refused.
    func crash(_ index: Int) {
        nodes[index].membership = nil
        for (id, link) in links.sorted(by: { $0.key < $1.key }) where link.dialer == index || link.acceptor == index {
            guard link.isOpen(at: index) else { continue }
            links[id]!.close(at: index)
            if link.isOpen(at: link.other(index)) { queue.push(.linkClosed(id, at: link.other(index), lost: true), at: now + delay()) }
        }
    }

    /// The node leaves gracefully, then its process exits.
    func leave(_ index: Int) {
        apply(nodes[index].membership!.leave(at: stamp), from: index)
        nodes[index].membership = nil
    }

    /// The node's process gets no CPU until `now + duration`: everything addressed to it waits.
    func stall(_ index: Int, for duration: Int64) { nodes[index].pausedUntil = now + duration }

    /// Cuts the network into groups: nothing crosses between groups until `heal`, and dials across time out.
    func partition(_ group: (Int) -> Int) {
        for index in nodes.indices { nodes[index].group = group(index) }
    }

    func heal() {
        for index in nodes.indices { nodes[index].group = 0 }
        for sender in stalls.keys { stalls[sender] = stalls[sender]!.filter { $0.value.until != .max } }
        let stuck = held
        held = []
        for (event, _) in stuck { queue.push(event, at: now + delay()) }
    }

    /// Runs events up to `time`.
    func run(until time: Int64) {
        while let next = queue.nextTime, next <= time {
            let (at, event) = queue.pop()!
            now = at
            handle(event)
        }
        now = max(now, time)
    }

    /// Runs until `condition` holds, checked every `step` ms, or `limit` ms have passed; returns how long it took.
    func run(for limit: Int64, step: Int64 = 50, until condition: () -> Bool) -> Int64? {
        let start = now
        while now - start <= limit {
            if condition() { return now - start }
            run(until: now + step)
        }
        return nil
    }

    // MARK: Views

    func membership(_ index: Int) -> Membership? { nodes[index].membership }
    func id(_ index: Int) -> String { nodes[index].id }
    var upNodes: [Int] { nodes.indices.filter { nodes[$0].up } }

    /// Whether every node in `observers` holds every node in `members` in `state`.
    func everyone(_ observers: [Int], sees members: [Int], as state: MemberState) -> Bool {
        observers.allSatisfy { observer in
            guard let membership = nodes[observer].membership else { return false }
            return members.allSatisfy { membership.member(nodes[$0].id)?.state == state || ($0 == observer && state == .alive) }
        }
    }

    /// Whether every node in `observers` holds the node `subject` as failed or left, or has forgotten it.
    func everyone(_ observers: [Int], seesGone subject: Int) -> Bool {
        observers.allSatisfy { observer in
            guard let state = nodes[observer].membership?.member(nodes[subject].id)?.state else { return true }
            return state == .failed || state == .left
        }
    }

    /// Links as pairs of node indices, each once.
    var linkPairs: Set<[Int]> {
        var pairs: Set<[Int]> = []
        for index in upNodes {
            for peer in nodes[index].membership!.linkedPeers { if let other = byID[peer] { pairs.insert([index, other].sorted()) } }
        }
        return pairs
    }

    /// Whether the links among `among` connect them all.
    func linksConnect(_ among: [Int]) -> Bool {
        guard let first = among.first else { return true }
        let members = Set(among)
        var seen: Set<Int> = [first]
        var stack = [first]
        while let index = stack.popLast() {
            for peer in nodes[index].membership?.linkedPeers ?? [] {
                if let other = byID[peer], members.contains(other), seen.insert(other).inserted { stack.append(other) }
            }
        }
        return seen.count == members.count
    }

    // MARK: Events

    private var stamp: Timestamp { Timestamp(milliseconds: now) }

    private func delay() -> Int64 { transit().delay }

    /// How long one message takes, and how many times it was resent on the way.
    private func transit() -> (delay: Int64, resends: Int) {
        var total = conditions.latency + (conditions.jitter > 0 ? Int64(random.next() % UInt64(conditions.jitter + 1)) : 0)
        var resend = conditions.retransmit
        var resends = 0
        while conditions.loss > 0, Double(random.next() % 1_000_000) / 1_000_000 < conditions.loss {
            total += resend
            resend *= 2
            resends += 1
        }
        return (total, resends)
    }

    /// Tells node `index` of its links whose transport is stalled now, as the node's TCP would.
    private func reportStalls(_ index: Int) {
        guard let own = stalls[index], !own.isEmpty else { return }
        for (link, stall) in own.sorted(by: { $0.key < $1.key }) where stall.from <= now {
            guard stall.until > now, let state = links[link], state.isOpen(at: index), nodes[index].up else {
                stalls[index]![link] = nil
                continue
            }
            guard now - read(on: link, by: index) >= configuration.probeTimeout.wholeMilliseconds - 10 else { continue }
            apply(nodes[index].membership!.linkStalled(nodes[state.other(index)].id, at: stamp), from: index)
        }
    }

    /// Where an event lands, and from where it came, to hold it at a partition.
    private func route(_ event: Event) -> (to: Int, from: Int)? {
        switch event {
        case .tick: nil
        case .deliver(let link, let to, _), .linkOpened(let link, let to), .linkClosed(let link, let to, _):
            links[link].map { (to, $0.other(to)) }
        case .dialRefused: nil
        }
    }

    private func handle(_ event: Event) {
        if let (to, from) = route(event), nodes[to].group != nodes[from].group {
            if case .linkClosed(_, _, true) = event {} else {
                held.append((event, from))
                return
            }
        }
        let target: Int
        switch event {
        case .tick(let index), .deliver(_, let index, _), .linkOpened(_, let index), .linkClosed(_, let index, _),
            .dialRefused(let index, _):
            target = index
        }
        guard nodes[target].up else { return }
        if nodes[target].pausedUntil > now {
            queue.push(event, at: nodes[target].pausedUntil)
            return
        }
        switch event {
        case .tick(let index):
            apply(nodes[index].membership!.tick(at: stamp), from: index)
            sendHeartbeats(index)
            reportStalls(index)
            queue.push(.tick(index), at: now + tickInterval)
        case .deliver(let link, let index, let message):
            guard let state = links[link], state.isOpen(at: index) else { return }
            messagesDelivered += 1
            if case .gossip(_, let records) = message { recordsReceived[index, default: 0] += records.count }
            apply(nodes[index].membership!.receive(message, from: nodes[state.other(index)].id, at: stamp), from: index)
        case .linkOpened(let link, let index):
            guard let state = links[link], state.isOpen(at: index) else { return }
            let other = state.other(index)
            guard let peer = nodes[other].membership else { return }
            let effects = nodes[index].membership!.linkUp(
                link, record: try! ProvenRecord(checking: peer.ownRecord, signing: nodes[index].signing), dialedByUs: index == state.dialer,
                peerIsolated: index == state.acceptor && peer.linkedPeers.isEmpty,
                address: index == state.dialer ? nodes[other].address : nil, at: stamp)
            // The handshake's last step reaches the dialler before anything the acceptor sends on the link.
            if index == state.acceptor { send(.linkOpened(link, at: state.dialer), on: link, from: index) }
            apply(effects, from: index)
        case .linkClosed(let link, let index, let lost):
            guard links[link]!.isOpen(at: index) else { return }
            links[link]!.close(at: index)
            apply(nodes[index].membership!.linkDown(link, peer: nodes[links[link]!.other(index)].id, lost: lost, at: stamp), from: index)
        case .dialRefused(let index, let address):
            apply(nodes[index].membership!.dialFailed(address, refused: true, at: stamp), from: index)
        }
    }

    private func apply(_ effects: [MembershipEffect], from index: Int) {
        for effect in effects {
            switch effect {
            case .dial(let address):
                guard let target = byAddress[address], nodes[target].up else {
                    queue.push(.dialRefused(from: index, address), at: now + 2 * conditions.latency)
                    continue
                }
                // Across a cut the connection never answers; the dialler gives up at its own deadline.
                guard nodes[target].group == nodes[index].group else { continue }
                let link = nextLink
                nextLink += 1
                links[link] = Link(dialer: index, acceptor: target)
                queue.push(.linkOpened(link, at: target), at: now + 2 * delay())
            case .send(let message, let peers):
                for peer in peers {
                    guard let link = nodes[index].membership?.link(to: peer) ?? linkBeingClosed(index, peer),
                        let state = links[link], state.isOpen(at: index)
                    else { continue }
                    send(.deliver(link, to: state.other(index), message), on: link, from: index)
                }
            case .sendOnLink(let message, let link):
                guard let state = links[link], state.isOpen(at: index) else { continue }
                send(.deliver(link, to: state.other(index), message), on: link, from: index)
            case .closeLink(let link, _):
                guard let state = links[link], state.isOpen(at: index) else { continue }
                send(.linkClosed(link, at: state.other(index), lost: false), on: link, from: index)
                links[link]!.close(at: index)
            case .memberChanged(let record, _):
                changes += 1
                for byte in "\(now) \(index) \(record.id) \(record.state.rawValue) \(record.incarnation)".utf8 {
                    traceDigest = (traceDigest ^ UInt64(byte)) &* 0x100_0000_01b3
                }
                if record.state == .failed, let subject = byID[record.id] {
                    let answering = nodes[subject].up && nodes[subject].group == nodes[index].group
                    failureMarks.append(FailureMark(time: now, observer: index, subject: subject, subjectAnswering: answering))
                }
            }
        }
    }

    /// Data on a link from `index`, heartbeat or message: when it arrives (never before what was sent earlier on
    /// the link), and whether the sender's TCP will see it resent unacknowledged twice.
    private func transmit(on link: LinkID, from index: Int) -> Int64 {
        let direction = links[link]!.dialer == index ? 0 : 1
        lastSent[link, default: [0, 0]][direction] = now
        let (wait, resends) = transit()
        let arrival = max(now + wait, lastArrival[link]?[direction] ?? 0)
        lastArrival[link, default: [0, 0]][direction] = arrival
        if nodes[links[link]!.other(index)].group == nodes[index].group { arrivals[link, default: [[], []]][direction].append(arrival) }
        // Resent twice (after `retransmit`, then twice that) and still unacknowledged: stalled, as the node's link
        // session sees it.
        let stallAfter = conditions.retransmit * 3
        if stalls[index]?[link] == nil {
            if nodes[links[link]!.other(index)].group != nodes[index].group {
                stalls[index, default: [:]][link] = (now + stallAfter, .max)
            } else if resends >= 2 {
                stalls[index, default: [:]][link] = (now + stallAfter, now + wait)
            }
        }
        return arrival
    }

    /// Links of node `index` that carried nothing from it for half a probe timeout get a heartbeat from their
    /// dialling end, and from the accepting end when nothing came the other way for three quarters of one either,
    /// as the node's link sessions send them: nothing the membership sees, only data for a kernel to acknowledge.
    private func sendHeartbeats(_ index: Int) {
        let tick = configuration.probeTimeout.wholeMilliseconds / 4
        for peer in nodes[index].membership!.linkedPeers {
            guard let link = nodes[index].membership!.link(to: peer), let state = links[link], state.isOpen(at: index) else { continue }
            let direction = state.dialer == index ? 0 : 1
            let sent = lastSent[link] ?? [0, 0]
            guard now - sent[direction] >= 2 * tick, direction == 0 || now - sent[0] >= 3 * tick else { continue }
            _ = transmit(on: link, from: index)
        }
    }

    /// A node sends its farewell on links it closes in the same step: they are no longer in its table.
    private func linkBeingClosed(_ index: Int, _ peer: String) -> LinkID? {
        guard let other = byID[peer] else { return nil }
        return links.keys.sorted().first {
            let link = links[$0]!
            return link.isOpen(at: index) && Set([link.dialer, link.acceptor]) == Set([index, other])
        }
    }

    private func send(_ event: Event, on link: LinkID, from index: Int) {
        queue.push(event, at: transmit(on: link, from: index))
    }

    /// When node `index` last read anything on `link`.
    private func read(on link: LinkID, by index: Int) -> Int64 {
        let direction = links[link]!.dialer == index ? 1 : 0
        var pending = arrivals[link]?[direction] ?? []
        var last = lastRead[link]?[direction] ?? 0
        while let first = pending.first, first <= now {
            last = first
            pending.removeFirst()
        }
        arrivals[link, default: [[], []]][direction] = pending
        lastRead[link, default: [0, 0]][direction] = last
        return last
    }
}
