import AshitaClient
import AshitaSystem

#if canImport(Glibc)
import Glibc
#endif

/// SIGINT and SIGTERM as an async stream of signal numbers.
///
/// A plain `sigaction` handler writes each signal to a pipe that a thread of its own reads. The handler is in
/// place when `install()` returns, so a signal that comes right after (a script that starts a node and stops
/// it at once) is never lost — libdispatch's signal sources register later, on another thread, and a signal
/// that came in between was dropped.
enum ProcessSignals {
    /// The pipe's write end, for the handler. Set once, before any handler exists; only read afterwards, which
    /// is what a signal handler may do.
    nonisolated(unsafe) private static var writeEnd: Int32 = -1
    private static let stream: AsyncStream<Int32> = {
        var ends: [Int32] = [0, 0]
        guard pipe(&ends) == 0 else { fatalError("ashita: cannot create a pipe for signals") }
        writeEnd = ends[1]
        let (stream, sink) = AsyncStream.makeStream(of: Int32.self)
        let readEnd = ends[0]
        detachThread {
            var number: UInt8 = 0
            while true {
                let n = read(readEnd, &number, 1)
                if n == 1 { sink.yield(Int32(number)) } else if n < 0 && errno == EINTR { continue } else { break }
            }
        }
        for signalNumber in [SIGINT, SIGTERM] {
            var action = sigaction()
            action.__sigaction_handler.sa_handler = { number in
                var byte = UInt8(truncatingIfNeeded: number)
                _ = write(ProcessSignals.writeEnd, &byte, 1)
            }
            sigemptyset(&action.sa_mask)
            action.sa_flags = SA_RESTART
            sigaction(signalNumber, &action, nil)
        }
        return stream
    }()

    /// Installs the handlers (once) and returns the signals from then on. One consumer at a time.
    static func install() -> AsyncStream<Int32> { stream }
}

/// Runs `body` until it returns or SIGINT/SIGTERM arrives; a signal cancels it, so it can close what it holds
/// and return normally (exit 0).
func untilSignalled(_ body: @escaping @Sendable () async throws -> Void) async throws {
    let signals = ProcessSignals.install()
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
