/// The overlay: which members this node links to, and what a link carries.
extension Membership {
    /// Dial these addresses (from `--join`, the operator, or members remembered from the last run) until the node
    /// has a link.
    /// At most `minLinks` of them are dialled at once, the others when those fail: a node restarted with a
    /// thousand remembered members does not dial a thousand addresses.
    public mutating func join(_ addresses: [NodeAddress], at now: Timestamp) -> [MembershipEffect] {
        let own = ownRecord.address
        for address in addresses where address != own && !seeds.contains(address) && seeds.count < configuration.maxMembers {
            seeds.append(address)
        }
        var effects: [MembershipEffect] = []
        dialSeeds(among: addresses.filter { $0 != own }, at: now, effects: &effects)
        return effects
    }

    mutating func dialSeeds(among addresses: [NodeAddress], at now: Timestamp, effects: inout [MembershipEffect]) {
        var pool = addresses.filter { dialing[$0] == nil }
        var wanted = max(1, configuration.minLinks - links.count - dialing.count)
        while wanted > 0, let next = pick(pool) {
            pool.removeAll { $0 == next }
            dial(next, at: now, effects: &effects)
            wanted -= 1
        }
    }

    /// A link is open and its other end has proved it holds `record.key`; `proven` is its own signed alive record,
    /// checked. `peerIsolated`: the dialer has no other link, so a full node makes room for it rather than refuse.
    public mutating func linkUp(
        _ link: LinkID, record proven: ProvenRecord, dialedByUs: Bool, peerIsolated: Bool, address dialled: NodeAddress? = nil,
        at now: Timestamp
    ) -> [MembershipEffect] {
        let record = proven.record
        if let dialled { dialing[dialled] = nil }
        dialing[record.address] = nil
        let peer = record.id
        guard !hasLeft else { return [.closeLink(link, .leaving)] }
        guard peer != id else {
            counters.badSignature += 1
            return [.closeLink(link, .refused)]
        }
        var effects: [MembershipEffect] = []
        // This node lists its table (`have`) to a neighbour that may lack much of it — a newcomer, a member this node
        // did not know, or one it held failed (the halves of a split mesh meeting again) — and on its own first
        // link; the neighbour sends back what this node lacks. Between members that know each other alive, a
        // summary: gossip keeps both up to date.
        let wasAlive = table[peer]?.record.state == .alive
        let needsTable = peerIsolated || links.isEmpty || !wasAlive
        let dialer = dialedByUs ? id : peer
        if let existing = links[peer] {
            // Both dialled at once: the link dialled by the smaller id stays, at both ends alike.
            guard dialer < existing.dialer else { return [.closeLink(link, .duplicate)] }
            effects.append(.closeLink(existing.link, .duplicate))
            links[peer] = nil
        } else if links.count >= configuration.maxLinks {
            // Room is made for a dialler with no other link, and — once per retry interval, whichever end dialled —
            // for a member this node holds failed: the halves of a split mesh, full of links among themselves
            // by the time it heals, would otherwise never link again to learn they are both alive.
            let rejoining = table[peer]?.record.state == .failed && now >= nextRejoinRoom
            guard (!dialedByUs && peerIsolated) || rejoining, let shed = pick(links.keys.sorted()) else {
                // No room: the dialler hears of the members this node knows, so it can link to others instead.
                let others = table.keys.sorted().compactMap { table[$0]!.record.state == .alive ? table[$0]!.record : nil }
                return chunks(others).map { .sendOnLink(.gossip(hops: 0, records: $0), link) } + [.closeLink(link, .full)]
            }
            if rejoining { nextRejoinRoom = now.adding(configuration.retryInterval) }
            effects.append(.closeLink(links[shed]!.link, .shed))
            links[shed] = nil
        }
        links[peer] = LinkState(
            link: link, dialer: dialer,
            bucket: TokenBucket(rate: configuration.messageRate, burst: configuration.messageBurst, at: now), lastHeard: now)
        // Taken in when new to this node, or newer than (or alive unlike) what it holds.
        if table[peer].map({ $0.record.state != .alive || $0.record.incarnation < record.incarnation }) ?? true {
            learn(record, from: peer, hops: 0, checked: true, at: now, effects: &effects)
        }
        table[peer]?.lastHeard = now
        if needsTable {
            offerTable(to: peer, at: now, effects: &effects)
        } else {
            sendSummary(to: peer, effects: &effects)
        }
        return effects
    }

    /// A link closed. `lost`: without a close from the other end (its process died, or the connection broke);
    /// then this node checks by dialling the member's address.
    public mutating func linkDown(_ link: LinkID, peer: String, lost: Bool, at now: Timestamp) -> [MembershipEffect] {
        guard let state = links[peer], state.link == link else { return [] }
        links[peer] = nil
        if probe?.target == peer { probe = nil }
        var effects: [MembershipEffect] = []
        if lost, !hasLeft, let record = table[peer]?.record, record.state == .alive || record.state == .suspect {
            dial(record.address, at: now, effects: &effects)
        }
        return effects
    }

    /// A dial failed. `refused`: nobody listens there (the kernel said so), which no live node causes. A member
    /// suspected already (say a dial that broke as the member died said `silent`) is claimed again with the
    /// stronger evidence. `broke`: the connection was made but broke before the link was up — the member may
    /// have died as it answered —, so its address is dialled again at once: a refusal then says so.
    public mutating func dialFailed(_ address: NodeAddress, refused: Bool, broke: Bool = false, at now: Timestamp) -> [MembershipEffect] {
        guard dialing.removeValue(forKey: address) != nil, !hasLeft else { return [] }
        var effects: [MembershipEffect] = []
        let own = id
        let member = table.values.map(\.record).filter { (record: MemberRecord) -> Bool in
            record.address == address && record.id != own && (record.state == .alive || record.state == .suspect)
        }.min { $0.id < $1.id }
        if let member, links[member.id] == nil {
            claimSuspect(member, evidence: refused ? .refused : .silent, at: now, effects: &effects)
            if broke { dial(address, at: now, effects: &effects) }
        }
        return effects
    }

    /// A dial reached a node that closed it on purpose before the link was up (a close frame: too many greetings,
    /// shutting down, a failed greeting): no evidence against anyone; the address may be dialled again.
    public mutating func dialDeclined(_ address: NodeAddress) {
        dialing[address] = nil
    }

    mutating func dial(_ address: NodeAddress, at now: Timestamp, effects: inout [MembershipEffect]) {
        guard dialing[address] == nil, address != ownRecord.address else { return }
        guard dialBucket.take(at: now) else {
            counters.dialsDeferred += 1
            return
        }
        dialing[address] = now.adding(configuration.dialTimeout)
        effects.append(.dial(address))
    }

    /// Suspects a member, signed by this node, unless it is suspected already at that incarnation by this node.
    mutating func claimSuspect(_ member: MemberRecord, evidence: SuspicionEvidence, at now: Timestamp, effects: inout [MembershipEffect]) {
        guard member.state == .alive || member.state == .suspect else { return }
        if let suspicion = suspicions[member.id], suspicion.incarnation == member.incarnation, suspicion.claimers.contains(id),
            !Self.stronger(evidence, than: suspicion.evidence)
        {
            return
        }
        var claim = member
        claim.state = .suspect
        claim.evidence = evidence
        claim.signer = id
        claim = signed(claim)
        learn(claim, from: nil, hops: 0, at: now, effects: &effects)
    }

    /// The transport under the link to `peer` stalled: TCP resent data that is still unacknowledged, and nothing
    /// came on the link for a probe timeout (a node sends a heartbeat on every quiet link, so there is always data
    /// to acknowledge). If no message came from `peer` for a probe timeout here either, the path may be cut or its
    /// host gone: neighbours are asked to ping it at once (the direct ping could not pass), and if none reaches it
    /// within a probe timeout it is suspected with evidence `unreachable`, a short suspicion. A process that is
    /// merely slow never causes this (its kernel still acknowledges), and a lossy path seldom: the neighbours'
    /// paths answer.
    public mutating func linkStalled(_ peer: String, at now: Timestamp) -> [MembershipEffect] {
        guard !hasLeft, let state = links[peer], let record = table[peer]?.record, record.state == .alive || record.state == .suspect,
            now.milliseconds - state.lastHeard.milliseconds >= scaledProbeTimeout
        else { return [] }
        var effects = giveUpRelays { $0.target == peer }
        if var current = probe, current.target == peer {
            current.unreachable = true
            if !current.indirect { askHelpers(&current, at: now, effects: &effects) }
            probe = current
        } else if probe?.unreachable != true {
            // A routine probe of another member gives way (that member's turn comes again); while another stalled
            // member is being checked, the next look at the transport tries again.
            var current = Probe(target: peer, seq: takeSeq(), started: now, deadline: now, unreachable: true)
            askHelpers(&current, at: now, effects: &effects)
            probe = current
        }
        return effects
    }

    /// The transport under the link to `peer` resent data that is still unacknowledged, once (TCP's first resend
    /// time passed after its tail probe): not yet a stall, but a ping sent to `peer` now would wait behind that data.
    /// For half a probe timeout, or until `peer` is heard, this node answers `nack` at once when a neighbour asks it
    /// to ping `peer`, and gives up the pings it is relaying to `peer` now: when `peer` is cut off, the neighbour
    /// that asked learns it from this node's path in the time TCP takes to resend once, not a probe timeout.
    public mutating func linkDoubtful(_ peer: String, at now: Timestamp) -> [MembershipEffect] {
        guard !hasLeft, var state = links[peer], now.milliseconds - state.lastHeard.milliseconds >= scaledProbeTimeout else { return [] }
        state.doubted = now
        links[peer] = state
        return giveUpRelays { $0.target == peer }
    }

    /// Whether the transport to `peer` was doubtful within the last half probe timeout, with nothing heard since.
    func isDoubtful(_ peer: String, at now: Timestamp) -> Bool {
        guard let state = links[peer], let doubted = state.doubted else { return false }
        return doubted >= state.lastHeard && now.milliseconds - doubted.milliseconds <= configuration.probeTimeout.wholeMilliseconds / 2
    }

    /// Ends the relayed pings that `giveUp` picks (their time ran out, or this node's own link to the target
    /// stalled or is doubtful): the neighbours that asked hear `nack`.
    mutating func giveUpRelays(_ giveUp: (Relay) -> Bool) -> [MembershipEffect] {
        var effects: [MembershipEffect] = []
        for (seq, relay) in relays.sorted(by: { $0.key < $1.key }) where giveUp(relay) {
            relays[seq] = nil
            if links[relay.asker] != nil { effects.append(.send(.nack(seq: relay.askerSeq), to: [relay.asker])) }
        }
        return effects
    }

    /// Keeps between `minLinks` and `maxLinks` links, dials failed members now and then so split halves meet
    /// again, and gives up dials that take too long.
    mutating func maintainLinks(at now: Timestamp, effects: inout [MembershipEffect]) {
        for (address, deadline) in dialing.sorted(by: { $0.key < $1.key }) where deadline <= now {
            effects += dialFailed(address, refused: false, at: now)
        }
        var wanted = configuration.minLinks - links.count - dialing.count
        if wanted <= 0, links.count < configuration.maxLinks, now >= nextRefresh {
            wanted = 1
            nextRefresh = now.adding(milliseconds: jittered(configuration.linkRefresh))
        }
        var pool: [String] = []
        if wanted > 0 {
            pool = table.keys.sorted().filter {
                $0 != id && links[$0] == nil && table[$0]!.record.state == .alive && dialing[table[$0]!.record.address] == nil
            }
            while wanted > 0, let next = pick(pool) {
                pool.removeAll { $0 == next }
                dial(table[next]!.record.address, at: now, effects: &effects)
                wanted -= 1
            }
        }
        if now >= nextRetry {
            nextRetry = now.adding(milliseconds: jittered(configuration.retryInterval))
            let failed = table.keys.sorted().filter { table[$0]!.record.state == .failed }
            if let member = pick(failed) { dial(table[member]!.record.address, at: now, effects: &effects) }
            // Short of links with nobody left to link to (an island of newcomers): back to where it joined.
            if links.isEmpty || (links.count < configuration.minLinks && pool.isEmpty) {
                dialSeeds(among: seeds, at: now, effects: &effects)
            }
            forgetGone(at: now)
        }
    }
}
