import AshitaSystem
import Logging
import ServiceLifecycle

#if canImport(Glibc)
import Glibc
#endif

/// Gives memory freed after a burst back to the system, as a service of the process's `ServiceGroup` (it ends
/// at the group's graceful shutdown). glibc keeps freed heap in its arenas, so a node that served a burst
/// (thousands of clients joining, hundreds of thousands of queued frames) kept that RSS after the clients left;
/// `malloc_trim` returns the free pages. It also takes the code pages the process is not running out of its
/// resident set (`CodePages`): those only its start ran, and those a burst ran. When each happens is
/// `ReclaimSchedule`'s to say, from the CPU time the process used each second.
public struct MemoryReclaimer: Service {
    private let schedule: ReclaimSchedule
    private let logger: Logger?

    public init(schedule: ReclaimSchedule = ReclaimSchedule(), logger: Logger? = nil) {
        self.schedule = schedule
        self.logger = logger
    }

    /// Returns at once where there is no `malloc_trim` (not glibc).
    public func run() async {
        guard let trim = Self.mallocTrim else { return }
        var schedule = self.schedule
        let tick = schedule.tick
        var cpu = Self.processCPUTime()
        while !Task.isCancelled && !Task.isShuttingDownGracefully {
            do {
                try await cancelWhenGracefulShutdown { try await Task.sleep(for: tick) }
            } catch {
                return
            }
            let now = Self.processCPUTime()
            let step = schedule.next(cpuUsed: now - cpu)
            cpu = now
            guard step.trim || step.releaseCode else { continue }
            // It walks the heap holding the arena locks: off the cooperative pool.
            let released = await onDedicatedThread {
                if step.trim { _ = trim(0) }
                return step.releaseCode ? CodePages.release() : 0
            }
            if step.releaseCode {
                logger?.debug("code pages released", metadata: ["bytes": "\(released)", "after": "\(step.reason?.description ?? "")"])
            }
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
