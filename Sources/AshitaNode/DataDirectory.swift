import AshitaSystem
import AshitaCore
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The node's files, owner-only, each written atomically (temp file, fsync, rename, fsync of the directory):
/// `operator-token` (the operator's secret), `node-key` (the Ed25519 key its id comes from), `known-nodes.json`
/// (which id answered at which address) and `lock` (held while a node runs on the directory).
public struct DataDirectory: Sendable {
    public let path: String

    public init(path: String) {
        self.path = path
    }

    /// `$XDG_DATA_HOME/ashita/PORT`, or `~/.local/share/ashita/PORT`.
    public static func defaultPath(port: Int) -> String { DefaultPaths.nodeData(port: port) }

    public var tokenPath: String { "\(path)/operator-token" }
    public var keyPath: String { "\(path)/node-key" }
    public var knownNodesPath: String { "\(path)/known-nodes.json" }
    public var bansPath: String { "\(path)/bans.json" }
    public var membersPath: String { "\(path)/members.json" }
    public var lockPath: String { "\(path)/lock" }

    /// What a node needs from its directory to start.
    public struct Contents: Sendable {
        public var operatorToken: String
        public var key: NodeKey
        public var knownNodes: KnownNodes
        /// The operator's bans still in force.
        public var bans: BanList
        /// Where the mesh's live members were when the node last saved: where a restart rejoins.
        public var members: [NodeAddress] = []
        public var lock: DataDirectoryLock
        /// Something the operator should hear of: a damaged file set aside.
        public var warnings: [String] = []
        /// The operator token was made at this start (the directory's first).
        public var tokenCreated = false
    }

    /// Takes the directory's lock, then loads the operator token, the node key and the known nodes, creating
    /// what is missing on first start. A token or key that exists but is damaged stops the start, naming the
    /// file: the node never silently makes itself a new identity or token. A directory or file another user
    /// owns or may write, a symbolic link or something other than a regular file stops it too. A damaged
    /// known-nodes file is set aside: strangers influence what it holds, and nothing they send may stop a start.
    public func open(at now: Timestamp = .now()) throws(FileError) -> Contents {
        try SecureFiles.makeDirectories(path)
        guard let fd = try SecureFiles.lockExclusively(lockPath) else {
            let holder = (try? SecureFiles.readText(lockPath))?.split(separator: "\n").first.map { " (pid \($0))" } ?? ""
            throw FileError(
                file: path, problem: "is in use by another running node\(holder)",
                remedy: "stop that node, or give this one its own --data-dir")
        }
        let lock = DataDirectoryLock(fd: fd)
        do throws(FileError) {
            SecureFiles.removeLeftoverTemporaries(in: path)
            let (token, tokenCreated) = try loadOrCreateHex(tokenPath, what: "operator token", byteCount: OperatorToken.byteCount) {
                var rng = SystemRandomNumberGenerator()
                return (0..<OperatorToken.byteCount).map { _ in UInt8.random(in: .min ... .max, using: &rng) }
            }
            let (keyHex, _) = try loadOrCreateHex(keyPath, what: "Ed25519 private key", byteCount: 32, remedy: Self.keyRemedy) {
                NodeKey.generate().rawRepresentation
            }
            guard let key = NodeKey(rawHex: keyHex) else {
                throw FileError(file: keyPath, problem: "does not hold a usable Ed25519 key", remedy: Self.keyRemedy)
            }
            let (knownNodes, setAside) = try KnownNodes.load(knownNodesPath)
            let (bans, bansSetAside) = try BansFile.load(bansPath, at: now)
            let (members, membersSetAside) = try MembersFile.load(membersPath)
            return Contents(
                operatorToken: token, key: key, knownNodes: knownNodes, bans: bans, members: members,
                lock: lock, warnings: [setAside, bansSetAside, membersSetAside].compactMap { $0 }, tokenCreated: tokenCreated)
        } catch {
            lock.release()
            throw error
        }
    }

    static let keyRemedy =
        "restore it from a backup; deleting it gives this node a new identity, which its peers will notice"

    private func loadOrCreateHex(
        _ file: String, what: String, byteCount: Int,
        remedy: String = "restore it from a backup, or delete it to have a new one made", make: () -> [UInt8]
    ) throws(FileError) -> (value: String, created: Bool) {
        if let existing = try SecureFiles.readText(file, limit: 4096, access: .secret) {
            let value = existing.hasSuffix("\n") ? String(existing.dropLast()) : existing
            guard Hex.decode(value)?.count == byteCount else {
                throw FileError(
                    file: file, problem: "does not hold a \(what) (\(byteCount * 2) hex digits)", remedy: remedy)
            }
            return (value, false)
        }
        let value = Hex.encode(make())
        try SecureFiles.writeAtomically(file, contents: value + "\n")
        return (value, true)
    }
}

/// The data directory's `flock`, held from start until the node stops (or its process ends, however it ends).
public final class DataDirectoryLock: Sendable {
    private let fd: Mutex<Int32?>

    init(fd: Int32) { self.fd = Mutex(fd) }

    /// Lets another node use the directory. Later calls do nothing.
    public func release() {
        fd.withLock { fd in
            if let open = fd {
                // Unlock explicitly: a child process forked meanwhile shares the open file until its exec, and
                // a plain close would leave the lock held that long.
                flock(open, LOCK_UN)
                close(open)
            }
            fd = nil
        }
    }
}
