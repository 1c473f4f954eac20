import AshitaClient
import AshitaCore
import Logging

#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// Which node id answered at which address, as verification found, kept in `known-nodes.json` so a restarted
/// node still notices when an address starts answering with another identity.
public struct KnownNodes: Codable, Equatable, Sendable {
    public struct Entry: Codable, Equatable, Sendable {
        public var id: String
        public var tls: Bool
        /// When verification last found this id here (RFC 3339).
        public var seen: String
    }

    /// Addresses kept at most; one host could otherwise run a node on every port.
    static let capacity = 4096

    public var version = 1
    public var nodes: [String: Entry] = [:]

    public init() {}

    static func load(_ file: String) throws(FileError) -> KnownNodes {
        guard let text = try SecureFiles.readText(file) else { return KnownNodes() }
        do {
            return try JSONDecoder().decode(KnownNodes.self, from: Data(text.utf8))
        } catch {
            throw FileError(
                file: file, problem: "is not a known-nodes file (\(error))",
                remedy: "restore it from a backup, or delete it: the node only forgets which ids it has seen")
        }
    }

    /// Records what verification found; returns the id previously seen there if it was another one.
    mutating func record(_ address: NodeAddress, _ facts: PeerFacts, at now: Timestamp) -> String? {
        guard let id = facts.id else { return nil }
        let previous = nodes[address.description]?.id
        nodes[address.description] = Entry(id: id, tls: facts.tls, seen: now.iso8601)
        // Bounded: the longest unseen go first (RFC 3339 UTC times sort as text).
        if nodes.count > Self.capacity, let oldest = nodes.min(by: { $0.value.seen < $1.value.seen })?.key {
            nodes[oldest] = nil
        }
        return previous != nil && previous != id ? previous : nil
    }

    func encoded() -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes]
        // Strings, booleans and integers always encode.
        return String(decoding: try! encoder.encode(self), as: UTF8.self) + "\n"
    }
}

/// Writes a file's latest contents off the cooperative pool (fsync blocks), one write at a time; contents
/// that arrive while a write runs replace each other, so a burst costs at most two writes.
actor StateFileWriter {
    private let file: String
    private let logger: Logger
    private var latest: String?
    private var writing = false
    private var waiters: [CheckedContinuation<Void, Never>] = []

    init(file: String, logger: Logger) {
        self.file = file
        self.logger = logger
    }

    func save(_ contents: String) {
        latest = contents
        guard !writing else { return }
        writing = true
        // Unstructured on purpose: the hub must not wait on the disk; `drain()` lets a shutdown wait for it.
        Task { await self.writeLoop() }
    }

    /// Returns once everything saved so far is on disk.
    func drain() async {
        guard writing else { return }
        await withCheckedContinuation { waiters.append($0) }
    }

    private func writeLoop() async {
        while let contents = latest {
            latest = nil
            let file = self.file
            let failure = await onDedicatedThread { () -> String? in
                do throws(FileError) {
                    try SecureFiles.writeAtomically(file, contents: contents)
                    return nil
                } catch {
                    return error.description
                }
            }
            if let failure { logger.error("cannot save state", metadata: ["problem": "\(failure)"]) }
        }
        writing = false
        for waiter in waiters { waiter.resume() }
        waiters = []
    }
}
