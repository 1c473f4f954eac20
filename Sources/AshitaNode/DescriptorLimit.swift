import Logging

#if canImport(Glibc)
import Glibc
#endif

/// The process's open-file limit, raised to what the system allows, and what of it connections may take:
/// the rest is kept for the node's own files, announcement checks and headroom.
enum DescriptorLimit {
    static let reserved = 256

    /// `wanted` connections, or fewer when the descriptor limit cannot hold them (said in the log).
    static func connections(wanted: Int, logger: Logger) -> Int {
        var limit = rlimit()
        guard getrlimit(__rlimit_resource_t(RLIMIT_NOFILE.rawValue), &limit) == 0 else { return wanted }
        let needed = rlim_t(wanted + reserved)
        if limit.rlim_cur < needed {
            limit.rlim_cur = min(needed, limit.rlim_max)
            _ = setrlimit(__rlimit_resource_t(RLIMIT_NOFILE.rawValue), &limit)
            _ = getrlimit(__rlimit_resource_t(RLIMIT_NOFILE.rawValue), &limit)
        }
        let available = max(16, Int(limit.rlim_cur) - reserved)
        if available < wanted {
            logger.notice(
                "fewer connections than --max-connections: the descriptor limit allows \(available)",
                metadata: ["limit": "\(limit.rlim_cur)", "wanted": "\(wanted)"])
        }
        return min(wanted, available)
    }
}
