#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Owner-only files written atomically: the node's data directory and the CLI's credentials.
public enum SecureFiles {
    public static func makeDirectories(_ path: String) throws(FileError) {
        var prefix = path.hasPrefix("/") ? "" : "."
        for component in path.split(separator: "/") {
            prefix += "/\(component)"
            if mkdir(prefix, 0o700) != 0 && errno != EEXIST {
                throw FileError(
                    file: prefix, problem: "cannot be created (\(String(cString: strerror(errno))))",
                    remedy: "choose another --data-dir")
            }
        }
    }

    /// The file's text, or nil when it does not exist.
    public static func readText(_ file: String) throws(FileError) -> String? {
        let fd = open(file, O_RDONLY | O_CLOEXEC)
        if fd < 0 {
            if errno == ENOENT { return nil }
            throw FileError(
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
            throw FileError(file: file, problem: "is not text", remedy: "restore it, or delete it to have a new one made")
        }
        return text
    }

    /// Temp file in the same directory, fsync, rename, fsync of the directory: a crash leaves the old file or
    /// the new one, never half of one. Owner-only.
    public static func writeAtomically(_ file: String, contents: String) throws(FileError) {
        let temp = "\(file).tmp-\(getpid())"
        let fd = open(temp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard fd >= 0 else {
            throw FileError(
                file: temp, problem: "cannot be written (\(String(cString: strerror(errno))))",
                remedy: "check the data directory's owner and free space")
        }
        let bytes = Array(contents.utf8)
        var written = 0
        while written < bytes.count {
            let n = bytes.withUnsafeBytes { write(fd, $0.baseAddress! + written, $0.count - written) }
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { break }
            written += n
        }
        let synced = fsync(fd) == 0
        close(fd)
        guard written == bytes.count, synced, rename(temp, file) == 0 else {
            let reason = String(cString: strerror(errno))
            unlink(temp)
            throw FileError(file: file, problem: "cannot be written (\(reason))", remedy: "check free space")
        }
        let directory = file.split(separator: "/", omittingEmptySubsequences: false).dropLast().joined(separator: "/")
        let dfd = open(directory.isEmpty ? "." : directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if dfd >= 0 {
            fsync(dfd)
            close(dfd)
        }
    }
}

extension SecureFiles {
    /// Takes an exclusive `flock` on `file` (created if needed) and keeps it while the returned descriptor is
    /// open: for the life of the process, since the kernel drops it when the process ends, however it ends.
    /// Returns nil when another process (or another open in this one) holds it.
    public static func lockExclusively(_ file: String) throws(FileError) -> Int32? {
        let fd = open(file, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard fd >= 0 else {
            throw FileError(
                file: file, problem: "cannot be opened (\(String(cString: strerror(errno))))",
                remedy: "check the data directory's owner and permissions")
        }
        guard flock(fd, LOCK_EX | LOCK_NB) == 0 else {
            close(fd)
            return nil
        }
        // The holder's pid, for the message another process shows; the lock itself is the flock.
        let pid = Array("\(getpid())\n".utf8)
        _ = ftruncate(fd, 0)
        _ = pid.withUnsafeBytes { pwrite(fd, $0.baseAddress, $0.count, 0) }
        return fd
    }

    /// Removes `NAME.tmp-PID` files a killed process left behind in `directory`.
    public static func removeLeftoverTemporaries(in directory: String) {
        guard let dir = opendir(directory) else { return }
        defer { closedir(dir) }
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { String(cString: $0.bindMemory(to: CChar.self).baseAddress!) }
            if name.contains(".tmp-") { unlink("\(directory)/\(name)") }
        }
    }
}

/// A file that could not be read or written: which, what went wrong, what to do.
public struct FileError: Error, CustomStringConvertible {
    public var file: String
    public var problem: String
    public var remedy: String

    public init(file: String, problem: String, remedy: String) {
        self.file = file
        self.problem = problem
        self.remedy = remedy
    }

    public var description: String { "\(file) \(problem); \(remedy)" }
}
