import AshitaCore

/// What the fuzzer feeds arbitrary bytes through: frame decoding and validation, address parsing, and the
/// mesh's state machine driven by a script decoded from the bytes. Checks the mesh's invariants after each
/// step; a broken invariant traps, which the fuzzer reports as a crash.
public enum FuzzHarness {
    public static func run(_ data: [UInt8]) {
        // The whole input as one frame, and as text to every parser.
        _ = ClientMessage.decode(data)
        let text = String(decoding: data, as: UTF8.self)
        _ = try? NodeAddress(parsing: text)
        _ = try? NodeEndpoint(parsing: text)
        _ = Timestamp(iso8601: text)
        // The whole input as a Last-Event-ID, against a journal that holds a few entries.
        var journal = EventJournal(boot: "f", capacity: 4)
        for i in 0..<3 { _ = journal.append(type: "nodeLeft", content: JournalContent(), at: Timestamp(milliseconds: Int64(i))) }
        _ = journal.entries(after: text)
        _ = journal.entries(after: "f-" + text)
        _ = LinkMessage.decode(data)
        _ = LinkGreeting.decode(data)
        runScript(data)
        runMembershipScript(data)
    }

    /// Bytes as a script: each step's first byte picks an operation, the next ones its arguments.
    static func runScript(_ data: [UInt8]) {
        var configuration = MeshConfiguration(
            address: try! NodeAddress(parsing: "127.0.0.1:8000"), id: "fuzz", version: "fuzz",
            operatorToken: String(repeating: "ab", count: 32))
        configuration.maxClients = 6
        configuration.messageBurst = 8
        configuration.maxAnnouncementsPerClient = 3
        configuration.verifyAnnouncements = (data.first ?? 0) & 1 == 0
        configuration.journalCapacity = 16
        var mesh = Mesh(configuration: configuration, boot: "f")
        var clock = Timestamp(milliseconds: 0)
        var connected: Set<ClientID> = []
        var index = 1
        func take() -> UInt8? {
            guard index < data.count else { return nil }
            defer { index += 1 }
            return data[index]
        }
        let homes = ["127.0.0.1:8000", "127.0.0.1:9000", "127.0.0.1:9001", "[::1]:9002", "a.example:1"].map {
            try! NodeAddress(parsing: $0)
        }
        while let op = take() {
            clock = clock.adding(milliseconds: Int64(op >> 4) * 37)
            let id = ClientID((take() ?? 0) % 8)
            var effects: [MeshEffect] = []
            switch op % 8 {
            case 0:
                guard !connected.contains(id) else { continue }
                connected.insert(id)
                effects = mesh.connect(id, remote: "10.0.0.\(id % 3)", at: clock)
            case 1:
                connected.remove(id)
                effects = mesh.disconnect(id, at: clock)
            case 2:
                // A frame made of the next n bytes.
                let count = Int(take() ?? 0)
                var frame: [UInt8] = []
                while frame.count < count, let byte = take() { frame.append(byte) }
                effects = mesh.receive(id, .text(frame), at: clock)
            case 3:
                let home = homes[Int(id) % homes.count]
                let token = (op & 0x10) != 0 ? #","content":{"token":"\#(String(repeating: "ab", count: 32))"}"# : ""
                effects = mesh.receive(id, .text(Array(#"{"type":"auth","node":"\#(home)"\#(token)}"#.utf8)), at: clock)
            case 4 where op & 0x80 != 0:
                // The node's links report a member: alive, suspect, failed or left.
                let address = homes[Int(id) % homes.count]
                let state = MemberState.allCases[Int(op >> 4) % MemberState.allCases.count]
                let member = MemberRecord(
                    id: "m\(id)", key: Array(repeating: 1, count: 32), address: address, incarnation: 1, state: state,
                    signer: "m\(id)")
                effects = mesh.memberChanged(member, previous: nil, at: clock)
            case 4:
                let home = homes[Int(id) % homes.count]
                // Sometimes the node's own id answers: another spelling of itself.
                let found = op & 0x40 != 0 ? "fuzz" : "p\(id)"
                effects = (op & 0x10) != 0
                    ? mesh.verified(home, PeerFacts(id: found, tls: op & 0x20 != 0), at: clock)
                    : mesh.verificationFailed(home, reason: "fuzz", at: clock)
            case 5:
                effects = mesh.authDeadlinePassed(id)
            case 6:
                effects = mesh.receive(id, op & 0x10 != 0 ? .control : .binary, at: clock)
            default:
                effects = mesh.rejectOversized(id, size: 70_000, limit: 65_536, at: clock)
            }
            // The edge turns closes into disconnects, as the node does.
            for case .close(let closed, _) in effects where connected.contains(closed) {
                connected.remove(closed)
                _ = mesh.disconnect(closed, at: clock)
            }
            checkInvariants(mesh, effects)
        }
    }

    static func checkInvariants(_ mesh: Mesh, _ effects: [MeshEffect]) {
        for peer in mesh.allPeers {
            precondition(!peer.clients.isEmpty, "a peer without clients stays listed")
            precondition(peer.address != mesh.configuration.address, "the node is its own peer")
            for client in peer.clients {
                precondition(mesh.clients[client]?.home == .some(peer.address), "a peer lists a client that left it")
            }
        }
        precondition(Set(mesh.peers.map(\.address)).isSubset(of: Set(mesh.allPeers.map(\.address))))
        precondition(mesh.peers.allSatisfy { $0.facts != nil }, "an unverified peer is listed publicly")
        precondition(!mesh.peers.contains { $0.facts?.id == mesh.configuration.identity.id }, "the node is its own peer")
        precondition(mesh.clients.count <= mesh.configuration.maxClients, "over the client limit")
        for effect in effects {
            if case .journal(let entry) = effect, entry.type == JournalType.nodeUnverified {
                precondition(entry.content.message == nil, "what a check found reached the public journal")
            }
            if case .fanOut(.nodeDiscovered(let announcement), let to) = effect {
                precondition(announcement.id != mesh.configuration.identity.id, "the node announced itself")
                let peer = mesh.allPeers.first { $0.address.description == announcement.nodeIp }
                let member = mesh.memberAddresses.contains { $0.description == announcement.nodeIp }
                precondition(peer?.facts != nil || member, "an unverified home was announced")
                precondition(to.allSatisfy { !(peer?.clients.contains($0) ?? false) }, "a home was announced to itself")
                precondition(
                    to.allSatisfy { mesh.clients[$0]?.home != .some(.some(try! NodeAddress(parsing: announcement.nodeIp))) },
                    "a member was announced to a client whose home it is")
            }
        }
    }
}
