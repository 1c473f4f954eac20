import Foundation

/// A process's exit, awaited without blocking a thread: `Process.waitUntilExit()` would hold one of the two
/// threads of Swift's cooperative pool here, and two such waits at once stall every test in the process.
public final class ProcessExit: Sendable {
    private let statuses: AsyncStream<Int32>

    /// Call before `process.run()`: it sets the process's termination handler.
    public init(_ process: Process) {
        let (statuses, sink) = AsyncStream.makeStream(of: Int32.self, bufferingPolicy: .bufferingNewest(1))
        self.statuses = statuses
        process.terminationHandler = { process in
            sink.yield(process.terminationStatus)
            sink.finish()
        }
    }

    /// The exit status, once the process has exited.
    public func status() async -> Int32 {
        var iterator = statuses.makeAsyncIterator()
        return await iterator.next() ?? -1
    }
}

/// Runs a configured process to its end and returns its exit status.
public func runToExit(_ process: Process) async throws -> Int32 {
    let exit = ProcessExit(process)
    try process.run()
    return await exit.status()
}

/// The `ashita` executable `swift test` built beside the test bundle (or `$ASHITA_BIN`).
public let ashitaExecutable: String = {
    if let override = ProcessInfo.processInfo.environment["ASHITA_BIN"] { return override }
    let bundle = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
    return bundle.appendingPathComponent("ashita").path
}()
