#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Owner-only files written atomically: the node's data directory and the CLI's credentials.
///
/// A directory or file someone else could have planted or can change is refused, never used: its owner must be
/// this user and nobody else may write it. Files are opened without following symbolic links and without
/// blocking (a FIFO in place of a file is refused, not waited on), and only regular files are read.
public enum SecureFiles {
    /// How much a file is trusted for what it holds.
    public enum Access: Sendable {
        /// A file the user names (say `--token-file`): any regular file the user can read.
        case userNamed
        /// A file the program keeps: owned by this user, writable by nobody else, no symbolic link.
        case owned
        /// A secret the program keeps: as `owned`, and readable by nobody else either.
        case secret
    }

    /// Creates the directories of `path` as needed (the last one mode 0700) and checks the last one is this
    /// user's and writable by nobody else.
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
        var info = stat()
        guard stat(path, &info) == 0 else {
            throw FileError(file: path, problem: "cannot be examined (\(String(cString: strerror(errno))))", remedy: "check its permissions")
        }
        guard info.st_mode & S_IFMT == S_IFDIR else {
            throw FileError(file: path, problem: "is not a directory", remedy: "remove it, or choose another directory", kind: .unsafe)
        }
        try checkOwnership(path, info, access: .owned, remedy: "chmod 700 \(path)")
    }

    /// The file's text, or nil when it does not exist. Larger than `limit` bytes, not UTF-8 text, not a regular
    /// file, or not trusted for `access`: an error saying so.
    public static func readText(_ file: String, limit: Int = 64 << 10, access: Access = .owned) throws(FileError) -> String? {
        let noFollow = access == .userNamed ? 0 : O_NOFOLLOW
        let fd = open(file, O_RDONLY | O_CLOEXEC | O_NONBLOCK | noFollow)
        if fd < 0 {
            if errno == ENOENT { return nil }
            if errno == ELOOP {
                throw FileError(file: file, problem: "is a symbolic link", remedy: "replace it with the file itself", kind: .unsafe)
            }
            throw FileError(
                file: file, problem: "cannot be read (\(String(cString: strerror(errno))))",
                remedy: "check its owner and permissions")
        }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0, info.st_mode & S_IFMT == S_IFREG else {
            throw FileError(file: file, problem: "is not a regular file", remedy: "replace it with a regular file", kind: .unsafe)
        }
        if access != .userNamed {
            try checkOwnership(file, info, access: access, remedy: "chmod \(access == .secret ? "600" : "644") \(file)")
        }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 16384)
        while bytes.count <= limit {
            let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { break }
            bytes += chunk[..<n]
        }
        guard bytes.count <= limit else {
            throw FileError(file: file, problem: "is larger than \(limit) bytes", remedy: "restore it, or delete it", kind: .damaged)
        }
        guard let text = String(validating: bytes, as: UTF8.self) else {
            throw FileError(file: file, problem: "is not text", remedy: "restore it, or delete it to have a new one made", kind: .damaged)
        }
        return text
    }

    /// Temp file in the same directory (created anew, never through a link), fsync, rename, fsync of the
    /// directory: a crash leaves the old file or the new one, never half of one. Owner-only.
    public static func writeAtomically(_ file: String, contents: String) throws(FileError) {
        var rng = SystemRandomNumberGenerator()
        let temp = "\(file).tmp-\(getpid())-\(String(UInt32.random(in: .min ... .max, using: &rng), radix: 36))"
        let fd = open(temp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o600)
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
        guard written == bytes.count, synced, Glibc.rename(temp, file) == 0 else {
            let reason = String(cString: strerror(errno))
            unlink(temp)
            throw FileError(file: file, problem: "cannot be written (\(reason))", remedy: "check free space")
        }
        syncDirectory(of: file)
    }

    /// Moves a file aside (a damaged one the program can do without), durably.
    public static func rename(_ file: String, to destination: String) throws(FileError) {
        guard Glibc.rename(file, destination) == 0 else {
            throw FileError(
                file: file, problem: "cannot be moved to \(destination) (\(String(cString: strerror(errno))))",
                remedy: "move or delete it yourself")
        }
        syncDirectory(of: file)
    }

    private static func syncDirectory(of file: String) {
        let directory = file.split(separator: "/", omittingEmptySubsequences: false).dropLast().joined(separator: "/")
        let dfd = open(directory.isEmpty ? "." : directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if dfd >= 0 {
            fsync(dfd)
            close(dfd)
        }
    }

    /// Refuses what another user owns or may write (and, for secrets, may read).
    static func checkOwnership(_ path: String, _ info: stat, access: Access, remedy: String) throws(FileError) {
        let me = geteuid()
        guard info.st_uid == me else {
            throw FileError(
                file: path, problem: "belongs to user \(info.st_uid), not to this user (\(me))",
                remedy: "use a directory of your own (--data-dir), or give it to this user", kind: .unsafe)
        }
        let mode = info.st_mode & 0o777
        let octal = String(mode, radix: 8)
        if mode & 0o022 != 0 {
            throw FileError(
                file: path, problem: "is writable by other users (mode \(octal))", remedy: "run 'chmod go-w' on it, or \(remedy)",
                kind: .unsafe)
        }
        if access == .secret, mode & 0o044 != 0 {
            throw FileError(
                file: path, problem: "is readable by other users (mode \(octal)), and it holds a secret",
                remedy: "run '\(remedy)'", kind: .unsafe)
        }
    }
}

extension SecureFiles {
    /// Takes an exclusive `flock` on `file` (created if needed) and keeps it while the returned descriptor is
    /// open: for the life of the process, since the kernel drops it when the process ends, however it ends.
    /// Returns nil when another process (or another open in this one) holds it.
    public static func lockExclusively(_ file: String) throws(FileError) -> Int32? {
        let fd = open(file, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK, 0o600)
        guard fd >= 0 else {
            if errno == ELOOP {
                throw FileError(file: file, problem: "is a symbolic link", remedy: "remove it", kind: .unsafe)
            }
            throw FileError(
                file: file, problem: "cannot be opened (\(String(cString: strerror(errno))))",
                remedy: "check the data directory's owner and permissions")
        }
        var info = stat()
        guard fstat(fd, &info) == 0, info.st_mode & S_IFMT == S_IFREG else {
            close(fd)
            throw FileError(file: file, problem: "is not a regular file", remedy: "remove it", kind: .unsafe)
        }
        do throws(FileError) {
            try checkOwnership(file, info, access: .owned, remedy: "remove it")
        } catch {
            close(fd)
            throw error
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
    public enum Kind: Sendable {
        /// The system refused (permissions, space).
        case system
        /// What it holds is not what it should be.
        case damaged
        /// It is not safe to use: someone else owns or may change it, or it is a link or not a file.
        case unsafe
    }

    public var file: String
    public var problem: String
    public var remedy: String
    public var kind: Kind

    public init(file: String, problem: String, remedy: String, kind: Kind = .system) {
        self.file = file
        self.problem = problem
        self.remedy = remedy
        self.kind = kind
    }

    public var isDamage: Bool { kind == .damaged }

    public var description: String { "\(file) \(problem); \(remedy)" }
}
