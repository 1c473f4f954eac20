/// The mesh's state as the HTTP API describes it: pure mappings, so the node's hub only asks for them.
extension Mesh {
    /// This node as `/api/v1/node` describes it (a challenge's signature is the node's to add).
    public func status(uptimeSeconds: Int, publicKey: String) -> NodeStatus {
        let identity = configuration.identity
        return NodeStatus(
            node: identity.nodeIp, id: identity.id, version: identity.version, uptimeSeconds: uptimeSeconds,
            clients: clients.count, peers: peers.count, operators: operatorCount, publicKey: publicKey, tls: identity.tls)
    }

    /// Verified peers; with `all` (the operator's view) also those pending or unverified, with their status.
    public func peerList(all: Bool) -> PeerList {
        PeerList(
            node: configuration.identity.nodeIp,
            peers: (all ? allPeers : peers).map { peer in
                let (status, reason): (String?, String?) =
                    switch (all, peer.verification) {
                    case (false, _): (nil, nil)
                    case (true, .verified): ("verified", nil)
                    case (true, .pending): ("pending", nil)
                    case (true, .failed(let why)): ("unverified", why)
                    case (true, .isSelf): ("self", "this node's own id answers there")
                    }
                return .init(
                    node: peer.address.description, since: peer.since.iso8601, clients: peer.clients.count,
                    direction: "inbound", id: peer.facts?.id, tls: peer.facts.map(\.tls), status: status, reason: reason)
            })
    }

    /// The operator's list of connected clients, oldest first.
    public func clientList() -> ClientList {
        ClientList(
            node: configuration.identity.nodeIp,
            clients: clients.values.sorted { $0.id < $1.id }.map { client in
                .init(
                    id: client.id, remote: client.remote, home: client.home??.description,
                    observer: client.home == .some(nil), operator: client.isOperator, since: client.since.iso8601)
            })
    }
}
