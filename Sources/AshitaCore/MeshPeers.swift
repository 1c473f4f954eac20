/// The peer table: which homes clients announce, which of them are verified, and who hears of them.
extension Mesh {
    /// Peers every client may know of, oldest first: verified homes (all homes when verification is off).
    /// The node itself is never its own peer.
    public var peers: [Peer] { allPeers.filter { $0.facts != nil } }

    /// Every announced home, verified or not: the operator's view.
    public var allPeers: [Peer] { peerOrder.compactMap { peerTable[$0] } }

    /// `peers` as `nodeList` and `nodeDiscovered` describe them.
    /// Every new client gets these (`nodeList`): read in place, without copying each peer's set of clients.
    var peerAnnouncements: [PeerAnnouncement] {
        var announcements: [PeerAnnouncement] = []
        announcements.reserveCapacity(peerOrder.count)
        for address in peerOrder {
            guard let index = peerTable.index(forKey: address), let announcement = peerTable.values[index].announcement else { continue }
            announcements.append(announcement)
        }
        return announcements
    }

    public var operatorCount: Int { clients.values.count(where: \.isOperator) }

    /// A client announces `home`. A new home is announced to the others at once, or, when announcements are
    /// verified, once an ashita node has been seen to answer there.
    mutating func attach(_ id: ClientID, to home: NodeAddress, _ now: Timestamp) -> [MeshEffect] {
        if peerTable[home] != nil {
            peerTable[home]!.clients.insert(id)
            // A home that failed its check is checked again when someone else vouches for it.
            if case .failed = peerTable[home]!.verification {
                peerTable[home]!.verification = .pending
                return [.verify(home, announcer: clients[id]!.limitKey)]
            }
            return []
        }
        peerOrder.append(home)
        guard configuration.verifyAnnouncements else {
            peerTable[home] = Peer(address: home, since: now, clients: [id], verification: .verified(.unverified))
            return announce(home, now)
        }
        peerTable[home] = Peer(address: home, since: now, clients: [id], verification: .pending)
        return [.verify(home, announcer: clients[id]!.limitKey)]
    }

    /// An ashita node answered at `home`: tell every client but the home's own that it exists. When the node
    /// that answered is this one (another spelling of its own address), it stays out of every view.
    public mutating func verified(_ home: NodeAddress, _ facts: PeerFacts, at now: Timestamp) -> [MeshEffect] {
        guard peerTable[home]?.verification == .pending else { return [] }
        if let id = facts.id, id == configuration.identity.id {
            peerTable[home]!.verification = .isSelf
            return []
        }
        peerTable[home]!.verification = .verified(facts)
        return announce(home, now)
    }

    /// Nothing ashita answered at `home`: nobody else hears of it. Its announcers and the journal learn only
    /// that; what was found (`reason`) is for the operator's view, since telling strangers what answers at
    /// an address of their choosing would map hosts and ports for them.
    public mutating func verificationFailed(_ home: NodeAddress, reason: String, at now: Timestamp) -> [MeshEffect] {
        guard let peer = peerTable[home], peer.verification == .pending else { return [] }
        peerTable[home]!.verification = .failed(reason)
        let violation = ProtocolViolation(
            .unverified, "\(home) could not be verified as an ashita node; other clients are not told of it")
        var effects: [MeshEffect] = []
        let announcers = peer.clients.sorted()
        if !announcers.isEmpty { effects.append(.fanOut(.error(violation), to: announcers)) }
        effects.append(record(JournalType.nodeUnverified, JournalContent(nodeIp: home.description), now))
        return effects
    }

    private mutating func announce(_ home: NodeAddress, _ now: Timestamp) -> [MeshEffect] {
        let peer = peerTable[home]!
        var effects: [MeshEffect] = []
        let others = authenticated.subtracting(peer.clients)
        // A live member of the mesh was announced to every client already.
        if !others.isEmpty, members[home] == nil {
            effects.append(.fanOut(.nodeDiscovered(peer.announcement!), to: Array(others)))
        }
        effects.append(
            record(JournalType.nodeDiscovered, JournalContent(nodeIp: peer.nodeIp, id: peer.facts?.id), now))
        return effects
    }

    mutating func detach(_ id: ClientID, from home: NodeAddress, _ now: Timestamp) -> [MeshEffect] {
        guard peerTable[home] != nil else { return [] }
        peerTable[home]!.clients.remove(id)
        guard peerTable[home]!.clients.isEmpty else { return [] }
        let wasAnnounced = peerTable[home]!.facts != nil
        peerTable[home] = nil
        peerOrder.removeAll { $0 == home }
        guard wasAnnounced else { return [] }
        var effects: [MeshEffect] = []
        let others = authenticated.filter { $0 != id }
        // A home that is still a live member of the mesh stays known to clients.
        if !others.isEmpty, members[home] == nil {
            effects.append(.fanOut(.nodeLeft(home), to: Array(others)))
        }
        effects.append(record(JournalType.nodeLeft, JournalContent(nodeIp: home.description), now))
        return effects
    }

    // MARK: Operator

    /// Checks a bearer token for the HTTP API, with the same rate limit as WebSocket operator logins.
    public mutating func checkOperatorToken(_ token: String, from remote: String, at now: Timestamp) -> TokenCheck {
        let key = IPAddress.limitKey(remote)
        if authFailures.isBlocked(key, at: now) { return .rateLimited }
        if OperatorToken.matches(token, configuration.operatorToken) { return .accepted }
        authFailures.recordFailure(key, at: now)
        return .rejected
    }

    public enum TokenCheck: Equatable, Sendable { case accepted, rejected, rateLimited }

    /// Closes every client announcing `home` (the operator's kick). The closes come back as disconnects.
    public func kick(_ home: NodeAddress) -> [MeshEffect] {
        (peerTable[home]?.clients.sorted() ?? []).map { .close($0, .kicked) }
    }

    /// Disconnects one client, an observer or one not yet authenticated included; no effects when there is none.
    public func kick(client id: ClientID) -> [MeshEffect] {
        clients[id] == nil ? [] : [.close(id, .kicked)]
    }

    /// The remote address (as bans count it) and home of a client, if it is connected.
    public func banTargets(of id: ClientID) -> (address: String, home: NodeAddress?)? {
        guard let client = clients[id] else { return nil }
        return (client.limitKey, client.home ?? nil)
    }

    /// Bans `target` (normalized, see `BanList.normalized`) until `end` and disconnects every client it covers:
    /// those announcing a banned home, those connected from a banned address.
    public mutating func ban(_ kind: BanList.Kind, _ target: String, until end: Timestamp, at now: Timestamp)
        -> (result: BanList.AddResult, effects: [MeshEffect])
    {
        let result = bans.add(kind, target, until: end, at: now)
        guard result == .added else { return (result, []) }
        let covered: [ClientID] =
            switch kind {
            case .home: (try? NodeAddress(parsing: target)).flatMap { peerTable[$0] }?.clients.sorted() ?? []
            case .address: clients.values.filter { $0.limitKey == target }.map(\.id).sorted()
            }
        return (result, covered.map { .close($0, .banned) })
    }

    /// Lifts a ban; whether one was in force.
    public mutating func unban(_ kind: BanList.Kind, _ target: String, at now: Timestamp) -> Bool {
        bans.remove(kind, target, at: now)
    }
}
