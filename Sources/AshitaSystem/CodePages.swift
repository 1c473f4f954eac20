#if canImport(Glibc)
import Glibc
#endif

/// The pages of program code a process touched once stay in its resident set for as long as it runs, though
/// nothing may use them again: those only its start ran (argument parsing, loading its key, setting up its
/// services), and those a burst of work ran (a thousand clients arriving and leaving). `release()` takes every
/// clean, read-only file mapping (the executable's code and constants, the shared libraries') out of the process's
/// resident set with `madvise(MADV_DONTNEED)`: the pages stay in the kernel's page cache, and any the process
/// touches again come back with a minor fault, so what remains resident is the code it actually runs.
///
/// Only mappings that are not writable and hold no private copy of any page (smaps' `Anonymous: 0 kB`) are
/// released: for those, dropping a page and faulting it back from the file gives the same bytes. A mapping with
/// private copies (relocated data made read-only after loading) would fault back the file's unrelocated bytes,
/// so it is left alone.
public enum CodePages {
    /// Releases what it can; returns the bytes of the mappings released (0 where there is no `/proc`).
    @discardableResult
    public static func release() -> Int {
        #if os(Linux)
        var released = 0
        for mapping in cleanReadOnlyFileMappings() {
            guard let start = UnsafeMutableRawPointer(bitPattern: mapping.start) else { continue }
            let length = Int(mapping.end - mapping.start)
            if madvise(start, length, MADV_DONTNEED) == 0 { released += length }
        }
        return released
        #else
        return 0
        #endif
    }

    struct Mapping {
        var start: UInt
        var end: UInt
        var path: String
        var writable: Bool
        var privateBytes: Int?

        /// Not writable, backed by a file, and without a private copy of any page.
        var isReleasable: Bool { !writable && path.hasPrefix("/") && privateBytes == 0 }
    }

    #if os(Linux)
    /// The mappings `release()` may drop, read from `/proc/self/smaps` (about 45 KB for a node).
    static func cleanReadOnlyFileMappings() -> [(start: UInt, end: UInt)] {
        guard let text = try? SecureFiles.readText("/proc/self/smaps", limit: 1 << 20, access: .userNamed) else { return [] }
        return parse(text).filter(\.isReleasable).map { ($0.start, $0.end) }
    }
    #endif

    /// smaps' text as mappings: a header line (`start-end perms offset dev inode path`) and its fields, of which
    /// only `Anonymous:` matters here. The other field lines (two dozen a mapping) are passed over by their first
    /// byte, unsplit: the node reads this while it may be busy.
    static func parse(_ text: String) -> [Mapping] {
        var mappings: [Mapping] = []
        let anonymous = Array("Anonymous:".utf8)
        var text = text
        text.withUTF8 { bytes in
            var start = 0
            while start < bytes.count {
                let end = bytes[start...].firstIndex(of: UInt8(ascii: "\n")) ?? bytes.count
                let line = UnsafeBufferPointer(rebasing: bytes[start..<end])
                start = end + 1
                guard let first = line.first else { continue }
                if (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(first) {
                    guard line.starts(with: anonymous), !mappings.isEmpty else { continue }
                    let digits = line.dropFirst(anonymous.count).drop { $0 == UInt8(ascii: " ") }.prefix { (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) }
                    mappings[mappings.count - 1].privateBytes = Int(String(decoding: digits, as: UTF8.self)).map { $0 * 1024 }
                    continue
                }
                if let mapping = header(String(decoding: line, as: UTF8.self)) { mappings.append(mapping) }
            }
        }
        return mappings
    }

    /// One mapping's header line: `start-end perms offset dev inode [path]`.
    static func header(_ line: String) -> Mapping? {
        let fields = line.split(separator: " ", omittingEmptySubsequences: true)
        guard let first = fields.first else { return nil }
        let range = first.split(separator: "-")
        guard range.count == 2, fields.count >= 5, let start = UInt(range[0], radix: 16), let end = UInt(range[1], radix: 16)
        else { return nil }
        let path = fields.count >= 6 ? fields[5...].joined(separator: " ") : ""
        return Mapping(start: start, end: end, path: path, writable: fields[1].contains("w"), privateBytes: nil)
    }
}
