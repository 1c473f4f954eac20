#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Runs blocking work (a libcurl transfer) on a new thread of its own and awaits its result.
///
/// Not `DispatchQueue.global()`: on Linux Swift's cooperative pool shares Dispatch's root queue threads (two
/// here), so blocking them can stall the very tasks the work waits for, such as a node in the same process.
public func onDedicatedThread<T: Sendable>(_ work: @escaping @Sendable () -> T) async -> T {
    await withCheckedContinuation { continuation in
        let job = Unmanaged.passRetained(ThreadJob { continuation.resume(returning: work()) })
        var thread = pthread_t()
        let created = pthread_create(&thread, nil, { argument in
            Unmanaged<ThreadJob>.fromOpaque(argument!).takeRetainedValue().run()
            return nil
        }, job.toOpaque())
        if created == 0 {
            pthread_detach(thread)
        } else {
            // No thread to be had: run here rather than fail.
            job.takeRetainedValue().run()
        }
    }
}

/// Starts blocking work on a new thread and returns at once.
public func detachThread(_ work: @escaping @Sendable () -> Void) {
    Task { await onDedicatedThread(work) }
}

private final class ThreadJob: Sendable {
    let run: @Sendable () -> Void
    init(_ run: @escaping @Sendable () -> Void) { self.run = run }
}
