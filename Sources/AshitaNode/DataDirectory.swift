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
        try Self.makeDirectories(path)
        let token = try loadOrCreate(tokenPath, what: "operator token", byteCount: OperatorToken.byteCount)
        let nodeID = try loadOrCreate(nodeIDPath, what: "node id", byteCount: 16)
        return (token, nodeID)
    }

    private func loadOrCreate(_ file: String, what: String, byteCount: Int) throws(DataDirectoryError) -> String {
        if let existing = try Self.readText(file) {
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
        try Self.writeAtomically(file, contents: value + "\n")
        return value
    }

    static func makeDirectories(_ path: String) throws(DataDirectoryError) {
        var prefix = path.hasPrefix("/") ? "" : "."
        for component in path.split(separator: "/") {
            prefix += "/\(component)"
            if mkdir(prefix, 0o700) != 0 && errno != EEXIST {
                throw DataDirectoryError(
                    file: prefix, problem: "cannot be created (\(String(cString: strerror(errno))))",
                    remedy: "choose another --data-dir")
            }
        }
    }

    /// The file's text, or nil when it does not exist.
    static func readText(_ file: String) throws(DataDirectoryError) -> String? {
        let fd = open(file, O_RDONLY | O_CLOEXEC)
        if fd < 0 {
            if errno == ENOENT { return nil }
            throw DataDirectoryError(
                file: file, problem: "cannot be read (\(String(cString: strerror(errno))))",
                remedy: "check its owner and permissions")
        }
        defer { close(fd) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        while bytes.count <= 1 << 16 {
            let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { break }
            bytes += chunk[..<n]
        }
        guard let text = String(validating: bytes, as: UTF8.self) else {
            throw DataDirectoryError(file: file, problem: "is not text", remedy: "restore it, or delete it to have a new one made")
        }
        return text
    }

    /// Temp file in the same directory, fsync, rename, fsync of the directory: a crash leaves the old file or
    /// the new one, never half of one. Owner-only.
    static func writeAtomically(_ file: String, contents: String) throws(DataDirectoryError) {
        let temp = "\(file).tmp-\(getpid())"
        let fd = open(temp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard fd >= 0 else {
            throw DataDirectoryError(
                file: temp, problem: "cannot be written (\(String(cString: strerror(errno))))",
                remedy: "check the data directory's owner and free space")
        }
        let bytes = Array(contents.utf8)
        let written = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        let synced = fsync(fd) == 0
        close(fd)
        guard written == bytes.count, synced, rename(temp, file) == 0 else {
            let reason = String(cString: strerror(errno))
            unlink(temp)
            throw DataDirectoryError(file: file, problem: "cannot be written (\(reason))", remedy: "check free space")
        }
        let directory = file.split(separator: "/", omittingEmptySubsequences: false).dropLast().joined(separator: "/")
        let dfd = open(directory.isEmpty ? "." : directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if dfd >= 0 {
            fsync(dfd)
            close(dfd)
        }
    }
}

public struct DataDirectoryError: Error, CustomStringConvertible {
    public var file: String
    public var problem: String
    public var remedy: String

    public var description: String { "\(file) \(problem); \(remedy)" }
}
