/// Anti-entropy: how two neighbours bring their tables level when a link opens and when their summaries differ —
/// by listing what each holds (`have`) and sending only the records the other lacks.
extension Membership {
    /// Half a sync interval: the least time between two offers of this node's table on one link, and the window in
    /// which it answers a neighbour's `have` once, or twice when it offered its own in the window too (the
    /// neighbour's list, then the neighbour's reply to this node's).
    var tableWindow: Int64 { configuration.syncInterval.wholeMilliseconds / 2 }

    /// Whether `time` lies within the current `tableWindow`.
    func isRecent(_ time: Timestamp?, at now: Timestamp) -> Bool {
        time.map { now.milliseconds - $0.milliseconds < tableWindow } ?? false
    }

    /// This node lists what it holds to one neighbour, which sends back what this node lacks and lists its own if it
    /// lacks something in turn. At most once per `tableWindow` on a link; a table too big to list goes whole.
    mutating func offerTable(to peer: String, at now: Timestamp, effects: inout [MembershipEffect]) {
        guard var state = links[peer], !isRecent(state.offered, at: now) else { return }
        state.offered = now
        state.offeredList = table.count <= LinkMessage.maxHaveEntries
        links[peer] = state
        guard state.offeredList else {
            send(table.keys.sorted().compactMap { table[$0]?.record }, to: peer, effects: &effects)
            return
        }
        let members = table.keys.sorted().map { MemberDigest(table[$0]!.record) }
        effects.append(.send(.have(members: members, reply: false), to: [peer]))
    }

    /// A neighbour listed what it holds: it gets the records it lacks (live members it does not know, and newer
    /// records of those it does) and, unless it answers a list already or has this node's whole list from this
    /// window, a list in reply when it holds something this node lacks: this node's state of each member the
    /// neighbour listed (never more than the neighbour listed, however big this node's table).
    mutating func answer(_ members: [MemberDigest], reply: Bool, from peer: String, at now: Timestamp, effects: inout [MembershipEffect]) {
        guard var state = links[peer] else { return }
        if !isRecent(state.answeredSince, at: now) {
            state.answeredSince = now
            state.answered = 0
        }
        let offered = isRecent(state.offered, at: now)
        guard state.answered < (offered ? 2 : 1) else {
            counters.rateLimited += 1
            return
        }
        state.answered += 1
        links[peer] = state
        var held: [String: MemberDigest] = [:]
        for member in members { held[member.id] = member }
        let lacking = table.keys.sorted().compactMap { key -> MemberRecord? in
            let record = table[key]!.record
            guard let theirs = held[key] else { return record.state == .alive ? record : nil }
            return MemberDigest(record).isNewer(than: theirs) ? record : nil
        }
        send(lacking, to: peer, effects: &effects)
        // News: a newer record of a member this node holds, or a live member it does not know (it would drop a
        // claim about one it does not know).
        let theyHaveNews = members.contains { member in
            table[member.id].map { member.isNewer(than: MemberDigest($0.record)) } ?? (member.state == .alive)
        }
        guard !reply, theyHaveNews, !(offered && state.offeredList) else { return }
        let mine = members.compactMap { table[$0.id].map { MemberDigest($0.record) } }
        effects.append(.send(.have(members: mine, reply: true), to: [peer]))
    }

    func send(_ records: [MemberRecord], to peer: String, effects: inout [MembershipEffect]) {
        for chunk in chunks(records) { effects.append(.send(.gossip(hops: 0, records: chunk), to: [peer])) }
    }

    /// Now and then, one neighbour gets this node's summary and lists what it holds if theirs differs.
    mutating func compareTables(at now: Timestamp, effects: inout [MembershipEffect]) {
        guard now >= nextSync else { return }
        nextSync = now.adding(milliseconds: jittered(configuration.syncInterval))
        guard let peer = pick(links.keys.sorted()) else { return }
        sendSummary(to: peer, effects: &effects)
    }

    func sendSummary(to peer: String, effects: inout [MembershipEffect]) {
        let (count, digest) = summary
        effects.append(.send(.summary(count: count, digest: digest, reply: false), to: [peer]))
    }

    /// `items` in runs of at most `LinkMessage.maxRecords`, as one `gossip` message may carry.
    func chunks<Item>(_ items: [Item]) -> [[Item]] {
        stride(from: 0, to: items.count, by: LinkMessage.maxRecords).map {
            Array(items[$0..<min($0 + LinkMessage.maxRecords, items.count)])
        }
    }
}
