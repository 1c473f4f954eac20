import AshitaCore
import AshitaSystem

#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
#if canImport(Glibc)
import Glibc
#endif

/// Operator tokens saved by `ashita auth`, one per node, in `$XDG_CONFIG_HOME/ashita/credentials.json`
/// (or `~/.config/ashita/credentials.json`), mode 0600, written atomically.
public struct CredentialStore: Sendable {
    public struct Entry: Codable, Sendable, Equatable {
        public var token: String
        public var saved: String
    }

    private struct Document: Codable {
        var nodes: [String: Entry] = [:]
    }

    public let path: String

    public init(path: String? = nil) {
        if let path {
            self.path = path
        } else if let xdg = getenv("XDG_CONFIG_HOME").map({ String(cString: $0) }), xdg.hasPrefix("/") {
            self.path = "\(xdg)/ashita/credentials.json"
        } else {
            self.path = "\(getenv("HOME").map { String(cString: $0) } ?? ".")/.config/ashita/credentials.json"
        }
    }

    /// The one key of a node however it was typed: a name is already in one spelling (`NodeAddress`), and
    /// `localhost` (or a name under it) is the loopback address it stands for, so `auth 127.0.0.1:8000` serves
    /// `peers localhost:8000`.
    public static func key(_ node: NodeAddress) -> String {
        let host = node.bareHost
        if host == "localhost" || host.hasSuffix(".localhost") { return "127.0.0.1:\(node.port)" }
        return node.description
    }

    public func token(for node: NodeAddress) throws(FileError) -> String? {
        let nodes = try load().nodes
        // Files written before keys were normalised hold the address as typed.
        return (nodes[Self.key(node)] ?? nodes[node.description])?.token
    }

    public func save(_ token: String, for node: NodeAddress, at now: Timestamp) throws(FileError) {
        var document = try load()
        document.nodes[node.description] = nil
        document.nodes[Self.key(node)] = Entry(token: token, saved: now.iso8601)
        try store(document)
    }

    /// Returns whether there was one to remove.
    @discardableResult
    public func remove(_ node: NodeAddress) throws(FileError) -> Bool {
        var document = try load()
        let removed = [Self.key(node), node.description].compactMap { document.nodes.removeValue(forKey: $0) }
        guard !removed.isEmpty else { return false }
        try store(document)
        return true
    }

    private func load() throws(FileError) -> Document {
        guard let text = try SecureFiles.readText(path) else { return Document() }
        do {
            return try JSONDecoder().decode(Document.self, from: Data(text.utf8))
        } catch {
            throw FileError(file: path, problem: "is not a credentials file", remedy: "fix it, or delete it and run 'ashita auth' again")
        }
    }

    private func store(_ document: Document) throws(FileError) {
        let directory = String(path[..<(path.lastIndex(of: "/") ?? path.startIndex)])
        if !directory.isEmpty { try SecureFiles.makeDirectories(directory) }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes]
        let data = (try? encoder.encode(document)) ?? Data("{}".utf8)
        try SecureFiles.writeAtomically(path, contents: String(decoding: data, as: UTF8.self) + "\n")
    }
}
