import AshitaSystem
import AshitaCore
import Logging

#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// Which node id answered at which address, as verification found, kept in `known-nodes.json` so a restarted
/// node still notices when an address starts answering with another identity.
///
/// Strangers decide what gets checked, so what they can make the node write is bounded by design: at most
/// `capacity` addresses, at most `addressesPerID` for one id, each entry of bounded size (addresses are at most
/// 255 bytes). `maxFileBytes` is what such a full file can take, and the node reads that much at start: a file
/// it wrote is always one it can read.
public struct KnownNodes: Codable, Equatable, Sendable {
    public struct Entry: Codable, Equatable, Sendable {
        public var id: String
        public var tls: Bool
        /// When verification last found this id here (RFC 3339).
        public var seen: String
    }

    /// Addresses kept at most; one host could otherwise run a node on every port.
    static let capacity = 1024
    /// Addresses kept for one id: a node has a few names, and one stranger's node cannot fill the file.
    static let addressesPerID = 4
    /// What the node reads of the file at most: `capacity` entries of at most about 400 bytes each (a 255-byte
    /// address of plain ASCII, a 32-character id, a time) take about 400 KB; a test writes the largest file
    /// possible and reads it back.
    static let maxFileBytes = 1 << 20

    public var version = 1
    public var nodes: [String: Entry] = [:]

    public init() {}

    /// The file's contents; an empty set when there is none. A file that cannot be read as known nodes (damaged,
    /// or written by something else) is set aside as `known-nodes.json.damaged` and the node starts without it:
    /// it only forgets which ids it has seen, and nothing a stranger sent can stop the start.
    /// `setAside` says what happened to a damaged file, for the log.
    static func load(_ file: String) throws(FileError) -> (nodes: KnownNodes, setAside: String?) {
        try StateFile.load(file, limit: maxFileBytes, empty: KnownNodes(), without: "the ids it had seen") { text in
            do {
                return .success(try JSONDecoder().decode(KnownNodes.self, from: Data(text.utf8)))
            } catch {
                return .failure(StateFile.DecodeProblem("is not a known-nodes file (\(error))"))
            }
        }
    }

    /// How stale `seen` may grow before it is written again: a check that finds what is known changes nothing
    /// worth a write (a stranger re-announcing a known home must not be a disk write each time).
    static let seenRefreshMilliseconds: Int64 = 3_600_000

    /// Records what verification found: whether the file's contents changed (worth a write), and the id
    /// previously seen there if it was another one.
    mutating func record(_ address: NodeAddress, _ facts: PeerFacts, at now: Timestamp) -> (changed: Bool, previous: String?) {
        guard let id = facts.id else { return (false, nil) }
        let known = nodes[address.description]
        if let known, known.id == id, known.tls == facts.tls,
            let seen = Timestamp(iso8601: known.seen), now.milliseconds - seen.milliseconds < Self.seenRefreshMilliseconds
        {
            return (false, nil)
        }
        let previous = known?.id
        nodes[address.description] = Entry(id: id, tls: facts.tls, seen: now.iso8601)
        // Bounded per id and in all: the longest unseen go first (RFC 3339 UTC times sort as text).
        let sameID = nodes.filter { $0.value.id == id }
        if sameID.count > Self.addressesPerID, let oldest = sameID.min(by: { $0.value.seen < $1.value.seen })?.key {
            nodes[oldest] = nil
        }
        if nodes.count > Self.capacity, let oldest = nodes.min(by: { $0.value.seen < $1.value.seen })?.key {
            nodes[oldest] = nil
        }
        return (true, previous != nil && previous != id ? previous : nil)
    }

    func encoded() -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes]
        // Strings, booleans and integers always encode.
        return String(decoding: try! encoder.encode(self), as: UTF8.self) + "\n"
    }
}

/// Writes a file's latest contents off the cooperative pool (fsync blocks), one write at a time; contents
/// that arrive while a write runs replace each other, so a burst costs at most two writes. `save` never waits:
/// the hub hands over and goes on. `run` is the writer, owned by the node's run; after `finish` it writes what
/// is still pending and returns.
/// Reading a state file the node writes and strangers or accidents may have damaged.
enum StateFile {
    /// What `file` holds (up to `limit` bytes), decoded; `empty` when there is none. A file that cannot be read or
    /// decoded is set aside as `FILE.damaged` and the node starts without it (`without` says what it loses), so no
    /// file stops a start; `setAside` says so, for the log.
    static func load<Value>(
        _ file: String, limit: Int, empty: Value, without: String, decode: (String) -> Result<Value, DecodeProblem>
    ) throws(FileError) -> (Value, String?) {
        let problem: String
        do throws(FileError) {
            guard let text = try SecureFiles.readText(file, limit: limit) else { return (empty, nil) }
            switch decode(text) {
            case .success(let value): return (value, nil)
            case .failure(let failure): problem = failure.description
            }
        } catch where error.isDamage {
            problem = error.problem
        }
        let aside = "\(file).damaged"
        try SecureFiles.rename(file, to: aside)
        return (empty, "\(file) \(problem): moved to \(aside); the node starts without \(without)")
    }

    /// Why a file's text is not what it should hold, as the log line says it ("is not a bans file").
    struct DecodeProblem: Error, CustomStringConvertible {
        let description: String
        init(_ description: String) { self.description = description }
    }
}

final class StateFileWriter: Sendable {
    private let file: String
    private let logger: Logger
    private let pending: AsyncStream<String>
    private let sink: AsyncStream<String>.Continuation

    init(file: String, logger: Logger) {
        self.file = file
        self.logger = logger
        (pending, sink) = AsyncStream.makeStream(of: String.self, bufferingPolicy: .bufferingNewest(1))
    }

    func save(_ contents: String) { sink.yield(contents) }

    /// No more saves: `run` returns once what was saved is on disk.
    func finish() { sink.finish() }

    func run() async {
        let (file, logger) = (self.file, self.logger)
        for await contents in pending {
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
    }
}
