import AshitaClient
import AshitaSystem
import UnixSignals

#if canImport(Glibc)
import Glibc
#endif

/// Runs `body` until it returns or SIGINT/SIGTERM arrives; a signal cancels it, so it can close what it holds
/// and return normally (exit 0). The handlers are registered (awaited) before `body` starts, so a signal from
/// the moment `body` prints anything is never lost.
func untilSignalled(_ body: @escaping @Sendable () async throws -> Void) async throws {
    let signals = await UnixSignalsSequence(trapping: .sigint, .sigterm)
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

/// `body`'s result, or nil when it takes longer than `limit` (it is cancelled then). Errors pass through.
func withDeadline<T: Sendable>(_ limit: Duration, _ body: @escaping @Sendable () async throws -> T) async throws -> T? {
    try await withThrowingTaskGroup(of: T?.self) { group in
        group.addTask { try await body() }
        group.addTask {
            try? await Task.sleep(for: limit)
            return nil
        }
        defer { group.cancelAll() }
        return try await group.next() ?? nil
    }
}
