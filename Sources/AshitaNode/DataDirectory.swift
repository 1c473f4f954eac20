import AshitaClient
import AshitaCore

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The node's files: `operator-token` (the operator's secret) and `node-id`. Owner-only, written atomically.
public struct DataDirectory: Sendable {
    public let path: String

    public init(path: String) {
        self.path = path
    }

    /// `$XDG_DATA_HOME/ashita/PORT`, or `~/.local/share/ashita/PORT`.
    public static func defaultPath(port: Int) -> String {
        if let xdg = getenv("XDG_DATA_HOME").map({ String(cString: $0) }), xdg.hasPrefix("/") {
            return "\(xdg)/ashita/\(port)"
        }
        let home = getenv("HOME").map { String(cString: $0) } ?? "."
        return "\(home)/.local/share/ashita/\(port)"
    }

    public var tokenPath: String { "\(path)/operator-token" }
    public var nodeIDPath: String { "\(path)/node-id" }

    /// Creates the directory if needed and loads the operator token and node id, creating them on first start.
    public func prepare() throws(DataDirectoryError) -> (operatorToken: String, nodeID: String) {
        try SecureFiles.makeDirectories(path)
        let token = try loadOrCreate(tokenPath, what: "operator token", byteCount: OperatorToken.byteCount)
        let nodeID = try loadOrCreate(nodeIDPath, what: "node id", byteCount: 16)
        return (token, nodeID)
    }

    private func loadOrCreate(_ file: String, what: String, byteCount: Int) throws(DataDirectoryError) -> String {
        if let existing = try SecureFiles.readText(file) {
            let value = existing.hasSuffix("\n") ? String(existing.dropLast()) : existing
            guard value.utf8.count == byteCount * 2,
                value.utf8.allSatisfy({ ($0 >= 0x30 && $0 <= 0x39) || ($0 >= 0x61 && $0 <= 0x66) })
            else {
                throw DataDirectoryError(
                    file: file,
                    problem: "does not hold a \(what) (\(byteCount * 2) hex digits)",
                    remedy: "restore it from a backup, or delete it to have a new one made")
            }
            return value
        }
        var rng = SystemRandomNumberGenerator()
        let value = OperatorToken.hex((0..<byteCount).map { _ in UInt8.random(in: .min ... .max, using: &rng) })
        try SecureFiles.writeAtomically(file, contents: value + "\n")
        return value
    }
}

public typealias DataDirectoryError = FileError
