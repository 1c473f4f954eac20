import Dispatch

#if canImport(Glibc)
import Glibc
#endif

/// Runs `body` until it returns or SIGINT/SIGTERM arrives; a signal cancels it, so it can close what it holds
/// and return normally (exit 0).
func untilSignalled(_ body: @escaping @Sendable () async throws -> Void) async throws {
    let (signals, sink) = AsyncStream.makeStream(of: Int32.self)
    let sources = [SIGINT, SIGTERM].map { number in
        signal(number, SIG_IGN)
        let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
        source.setEventHandler { sink.yield(number) }
        source.resume()
        return source
    }
    defer { sources.forEach { $0.cancel() } }
    try await withThrowingTaskGroup(of: Void.self) { group in
        group.addTask { try await body() }
        group.addTask {
            for await _ in signals { return }
        }
        try await group.next()
        group.cancelAll()
        try await group.waitForAll()
    }
}
