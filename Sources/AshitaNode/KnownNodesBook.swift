import AshitaCore
import Logging

/// Which node id answered at which address, as this node has seen it, kept with its file: every change is handed
/// to the writer before anyone hears of the peer, so a clean stop after that keeps it.
struct KnownNodesBook {
    private var known: KnownNodes
    private let writer: StateFileWriter
    private let logger: Logger

    init(_ known: KnownNodes, writer: StateFileWriter, logger: Logger) {
        self.known = known
        self.writer = writer
        self.logger = logger
    }

    /// Whether a check found a node at `address` before.
    func contains(_ address: NodeAddress) -> Bool {
        known.nodes[address.description] != nil
    }

    /// What a check found at `address`; a known address answering with another id is logged.
    mutating func record(_ address: NodeAddress, _ facts: PeerFacts, at now: Timestamp) {
        let (changed, previous) = known.record(address, facts, at: now)
        if let previous {
            logger.warning(
                "a known address answers with another node id",
                metadata: ["node": "\(address)", "was": "\(previous)", "now": "\(facts.id ?? "")"])
        }
        if changed { writer.save(known.encoded()) }
    }
}
