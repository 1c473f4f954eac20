import AshitaSystem
import Logging
import ServiceLifecycle

#if canImport(Glibc)
import Glibc
#endif

/// Gives memory freed after a burst back to the system, as a service of the process's `ServiceGroup` (it ends
/// at the group's graceful shutdown). glibc keeps freed heap in its arenas, so a node that served a burst
/// (thousands of clients joining, hundreds of thousands of queued frames) kept that RSS after the clients left;
/// `malloc_trim` returns the free pages. Cheap when there is little to return. The first round also releases the
/// code pages only the start used (`StartupPages`).
public struct MemoryReclaimer: Service {
    private let interval: Duration
    private let logger: Logger?

    public init(every interval: Duration = .seconds(5), logger: Logger? = nil) {
        self.interval = interval
        self.logger = logger
    }

    /// Returns at once where there is no `malloc_trim` (not glibc).
    public func run() async {
        guard let trim = Self.mallocTrim else { return }
        var started = true
        while !Task.isCancelled && !Task.isShuttingDownGracefully {
            do {
                try await cancelWhenGracefulShutdown { [interval] in try await Task.sleep(for: interval) }
            } catch {
                return
            }
            // It walks the heap holding the arena locks: off the cooperative pool. The first time, the start is
            // over: the code that only ran then leaves the resident set too.
            let first = started
            started = false
            let released = await onDedicatedThread {
                _ = trim(0)
                return first ? StartupPages.release() : 0
            }
            if first { logger?.debug("start-up pages released", metadata: ["bytes": "\(released)"]) }
        }
    }

    /// Caps glibc's malloc arenas (by default up to 8 per core). With many threads allocating in bursts, each
    /// arena keeps its own free memory; fewer arenas return more of it. Call before the node starts serving.
    public static func limitArenas(to count: Int32) {
        #if canImport(Glibc)
        guard let symbol = dlsym(nil, "mallopt") else { return }
        let mallopt = unsafeBitCast(symbol, to: (@convention(c) (Int32, Int32) -> Int32).self)
        _ = mallopt(-8, count)  // M_ARENA_MAX
        #endif
    }

    /// glibc's `malloc_trim`, which Swift's Glibc module does not export (it is in malloc.h); nil elsewhere.
    private static let mallocTrim: (@convention(c) (Int) -> Int32)? = {
        #if canImport(Glibc)
        guard let symbol = dlsym(nil, "malloc_trim") else { return nil }
        return unsafeBitCast(symbol, to: (@convention(c) (Int) -> Int32).self)
        #else
        return nil
        #endif
    }()
}
