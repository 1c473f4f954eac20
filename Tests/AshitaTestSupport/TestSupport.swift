import AshitaSystem
import Foundation

/// A test that waited too long for something.
public struct TimedOut: Error, CustomStringConvertible {
    public var what: String
    public var description: String { "timed out waiting for \(what)" }
}

/// How many times its stated limit `within` waits. Every limit is a guard against a hang, never a wait for
/// something; on two busy cores (CI runs the whole suite there) a healthy step has taken longer than 10 s, so the
/// guards are three times what the tests say: a hang is reported later, a slow machine is not a failure.
public let hangGuardPatience = 3.0

/// Runs `body`, failing if it takes longer than `seconds` × `hangGuardPatience`: a guard against a hang, never a
/// wait for something.
///
/// It returns at its limit whatever `body` does: `body` runs in a task of its own, which is cancelled then and
/// not waited for, so a body that does not heed cancellation (a blocking read, a future) cannot hold the test.
/// Cancelling the caller cancels `body` too.
public func within<T: Sendable>(
    _ seconds: Double = 10, _ what: String = "an event", _ body: @escaping @Sendable () async throws -> T
) async throws -> T {
    let work = Task { try await body() }
    let decided = Decided<Result<T, any Error>>()
    let result = await withTaskCancellationHandler {
        Task { decided.resolve(await work.result) }
        Task {
            try? await Task.sleep(for: .milliseconds(Int(seconds * hangGuardPatience * 1000)))
            decided.resolve(.failure(TimedOut(what: what)))
        }
        return await decided.value()
    } onCancel: {
        work.cancel()
        decided.resolve(.failure(CancellationError()))
    }
    work.cancel()
    return try result.get()
}

/// A new empty directory under the system's temporary directory.
public func temporaryDirectory(_ label: String = "ashita-test") -> String {
    let path = FileManager.default.temporaryDirectory.appendingPathComponent("\(label)-\(UUID().uuidString)").path
    try! FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    return path
}

/// Writes `text` to `file` with `mode` (owner-only by default, as the node keeps its files).
public func writeFile(_ file: String, _ text: String, mode: Int = 0o600) throws {
    try text.write(toFile: file, atomically: true, encoding: .utf8)
    try FileManager.default.setAttributes([.posixPermissions: mode], ofItemAtPath: file)
}
