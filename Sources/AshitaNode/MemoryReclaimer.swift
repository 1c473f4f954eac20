import AshitaSystem
import Logging
import ServiceLifecycle

#if canImport(Glibc)
import Glibc
#endif

/// Gives memory freed after a burst back to the system, as a service of the process's `ServiceGroup` (it ends
/// at the group's graceful shutdown). glibc keeps freed heap in its arenas, so a node that served a burst
/// (thousands of clients joining, hundreds of thousands of queued frames) kept that RSS after the clients left;
/// `malloc_trim` returns the free pages, every `interval`. Cheap when there is little to return.
///
/// Once, at the first quiet second after `interval` (the process used less than `quietCPU` of CPU in it), it also
/// releases the code pages only the start used (`StartupPages`). Not while the node is busy: a node started into a
/// mesh forming, or into a burst of clients, would read its 45 KB of smaps and then fault back in at once the code
/// it was running (measured: with 60 nodes joining one another, releases during the join took a twentieth of the
/// machine's CPU). A node that is never quiet releases them after `12 × interval` all the same.
public struct MemoryReclaimer: Service {
    private let interval: Duration
    private let quietCPU: Duration
    private let logger: Logger?

    public init(every interval: Duration = .seconds(5), quietCPU: Duration = .milliseconds(20), logger: Logger? = nil) {
        self.interval = interval
        self.quietCPU = quietCPU
        self.logger = logger
    }

    /// Returns at once where there is no `malloc_trim` (not glibc).
    public func run() async {
        guard let trim = Self.mallocTrim else { return }
        let tick = Duration.seconds(1)
        var age = Duration.zero
        var sinceTrim = Duration.zero
        var pagesReleased = false
        var cpu = Self.processCPUTime()
        while !Task.isCancelled && !Task.isShuttingDownGracefully {
            do {
                try await cancelWhenGracefulShutdown { try await Task.sleep(for: tick) }
            } catch {
                return
            }
            age += tick
            sinceTrim += tick
            let now = Self.processCPUTime()
            let quiet = now - cpu < quietCPU
            cpu = now
            let trimming = sinceTrim >= interval
            let releasing = !pagesReleased && age >= interval && (quiet || age >= interval * 12)
            guard trimming || releasing else { continue }
            if trimming { sinceTrim = .zero }
            pagesReleased = pagesReleased || releasing
            // It walks the heap holding the arena locks: off the cooperative pool.
            let released = await onDedicatedThread {
                if trimming { _ = trim(0) }
                return releasing ? StartupPages.release() : 0
            }
            if releasing { logger?.debug("start-up pages released", metadata: ["bytes": "\(released)", "quiet": "\(quiet)"]) }
            // What the trim and the release cost is not the node's own work.
            cpu = Self.processCPUTime()
        }
    }

    /// CPU time this process has used, all threads.
    static func processCPUTime() -> Duration {
        #if canImport(Glibc)
        var time = timespec()
        guard clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &time) == 0 else { return .zero }
        return .seconds(time.tv_sec) + .nanoseconds(time.tv_nsec)
        #else
        return .zero
        #endif
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
