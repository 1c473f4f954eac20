/// Anti-entropy: how two neighbours bring their tables level when a link opens and when their summaries differ —
/// by listing what each holds (`have`) and sending only the records the other lacks.
extension Membership {
    /// Half a sync interval: the least time between two offers of this node's table on one link, and the window in
    /// which it answers at most `maxHaveAnswers` of a neighbour's.
    var tableWindow: Int64 { configuration.syncInterval.wholeMilliseconds / 2 }

    /// A link opened to an answer of `have` and of `have` with `reply`: two answers a window are what a link needs.
    static let maxHaveAnswers = 2

    /// This node lists what it holds to one neighbour, which sends back what this node lacks and lists its own if it
    /// lacks something in turn. At most once per `tableWindow` on a link; a table too big to list goes whole.
    mutating func offerTable(to peer: String, reply: Bool = false, at now: Timestamp, effects: inout [MembershipEffect]) {
        guard var state = links[peer] else { return }
        if let offered = state.offered, now.milliseconds - offered.milliseconds < tableWindow { return }
        state.offered = now
        links[peer] = state
        guard table.count <= LinkMessage.maxHaveEntries else {
            send(table.keys.sorted().compactMap { table[$0]?.record }, to: peer, effects: &effects)
            return
        }
        let members = table.keys.sorted().map { MemberDigest(table[$0]!.record) }
        effects.append(.send(.have(members: members, reply: reply), to: [peer]))
    }

    /// A neighbour listed what it holds: it gets the records it lacks (live members it does not know, and newer
    /// records of those it does) and, unless it answers a list already, this node's own list when the neighbour
    /// holds something this node lacks.
    mutating func answer(_ members: [MemberDigest], reply: Bool, from peer: String, at now: Timestamp, effects: inout [MembershipEffect]) {
        guard var state = links[peer] else { return }
        if state.answeredSince.map({ now.milliseconds - $0.milliseconds >= tableWindow }) ?? true {
            state.answeredSince = now
            state.answered = 0
        }
        guard state.answered < Self.maxHaveAnswers else {
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
        let theyHaveNews = members.contains { member in table[member.id].map { member.isNewer(than: MemberDigest($0.record)) } ?? true }
        if !reply, theyHaveNews { offerTable(to: peer, reply: true, at: now, effects: &effects) }
    }

    func send(_ records: [MemberRecord], to peer: String, effects: inout [MembershipEffect]) {
        for chunk in chunks(records) { effects.append(.send(.gossip(hops: 0, records: chunk), to: [peer])) }
    }

    /// Now and then, one neighbour gets this node's summary and lists what it holds if theirs differs.
    mutating func compareTables(at now: Timestamp, effects: inout [MembershipEffect]) {
        guard now >= nextSync else { return }
        nextSync = now.adding(milliseconds: jittered(configuration.syncInterval))
        guard let peer = pick(links.keys.sorted()) else { return }
        let (count, digest) = summary
        effects.append(.send(.summary(count: count, digest: digest, reply: false), to: [peer]))
    }

    func chunks(_ records: [MemberRecord]) -> [[MemberRecord]] {
        stride(from: 0, to: records.count, by: LinkMessage.maxRecords).map {
            Array(records[$0..<min($0 + LinkMessage.maxRecords, records.count)])
        }
    }
}
