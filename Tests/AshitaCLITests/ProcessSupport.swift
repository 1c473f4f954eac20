import AshitaTestSupport
import AshitaClient
import Foundation
import Testing

/// A running `ashita`: its stdout as lines as they come, its stderr collected, its exit status.
final class AshitaProcess: Sendable {
    let process: Process
    let lines: AsyncStream<String>
    private let stderrText: AsyncStream<String>
    private let errorLines: AsyncStream<String>
    private let exited: AsyncStream<Int32>

    init(_ arguments: [String], environment: [String: String] = [:]) throws {
        let (process, out, err) = makeProcess(arguments, environment: environment)
        self.process = process
        let (lines, lineSink) = AsyncStream.makeStream(of: String.self)
        let (exited, exitSink) = AsyncStream.makeStream(of: Int32.self)
        self.lines = lines
        self.exited = exited
        let (stderrText, stderrSink) = AsyncStream.makeStream(of: String.self)
        self.stderrText = stderrText
        let (errorLines, errorLineSink) = AsyncStream.makeStream(of: String.self)
        self.errorLines = errorLines
        process.terminationHandler = { process in
            exitSink.yield(process.terminationStatus)
            exitSink.finish()
        }
        try process.run()
        Thread.detachNewThread {
            var pending = Data()
            while true {
                let chunk = out.fileHandleForReading.availableData
                if chunk.isEmpty { break }
                pending.append(chunk)
                while let newline = pending.firstIndex(of: 0x0A) {
                    lineSink.yield(String(decoding: pending[pending.startIndex..<newline], as: UTF8.self))
                    pending = Data(pending[pending.index(after: newline)...])
                }
            }
            if !pending.isEmpty { lineSink.yield(String(decoding: pending, as: UTF8.self)) }
            lineSink.finish()
        }
        Thread.detachNewThread {
            // Line by line as it comes, and all of it at the end.
            var all = Data()
            var pending = Data()
            while true {
                let chunk = err.fileHandleForReading.availableData
                if chunk.isEmpty { break }
                all.append(chunk)
                pending.append(chunk)
                while let newline = pending.firstIndex(of: 0x0A) {
                    errorLineSink.yield(String(decoding: pending[pending.startIndex..<newline], as: UTF8.self))
                    pending = Data(pending[pending.index(after: newline)...])
                }
            }
            errorLineSink.finish()
            stderrSink.yield(String(decoding: all, as: UTF8.self))
            stderrSink.finish()
        }
    }

    /// The next stdout line; nil at end of output.
    func nextLine() async throws -> String? {
        try await within(15, "a line from ashita \(process.arguments ?? [])") {
            var iterator = self.lines.makeAsyncIterator()
            return await iterator.next()
        }
    }

    /// The next stderr line that contains `text` (earlier ones are passed over); nil at end of output.
    func nextErrorLine(containing text: String) async throws -> String? {
        try await within(15, "'\(text)' on the stderr of ashita \(process.arguments ?? [])") {
            for await line in self.errorLines where line.contains(text) { return line }
            return nil
        }
    }

    func signal(_ number: Int32) {
        kill(process.processIdentifier, number)
    }

    /// Waits for the exit status (and for stderr to be read to its end).
    func exitStatus() async throws -> Int32 {
        let status = try await within(20, "ashita \(process.arguments ?? []) to exit") {
            var iterator = self.exited.makeAsyncIterator()
            return await iterator.next() ?? -1
        }
        return status
    }

    /// Everything the process wrote to stderr, once its stderr has closed (at exit).
    func stderr() async throws -> String {
        try await within(20, "stderr of ashita \(process.arguments ?? [])") {
            var iterator = self.stderrText.makeAsyncIterator()
            return await iterator.next() ?? ""
        }
    }
}


/// Runs `ashita ARGS` to its end: exit status, all of stdout, all of stderr.
func ashita(_ arguments: String..., environment: [String: String] = [:]) async throws -> (status: Int32, stdout: String, stderr: String) {
    try await ashita(arguments, environment: environment)
}

func ashita(_ arguments: [String], environment: [String: String] = [:]) async throws -> (status: Int32, stdout: String, stderr: String) {
    let (process, out, err) = makeProcess(arguments, environment: environment)
    return try await runToEnd(process, stdout: out, stderr: err, limit: .seconds(30))
}

/// Runs a prepared process to its end: exit status, all of stdout, all of stderr. Reading a pipe cannot be
/// cancelled, so the guard against a hang is killing the process after `limit`: the test then fails on its
/// status (SIGKILL) instead of hanging.
func runToEnd(_ process: Process, stdout out: Pipe, stderr err: Pipe, limit: Duration) async throws
    -> (status: Int32, stdout: String, stderr: String)
{
    let exit = ProcessExit(process)
    try process.run()
    let pid = process.processIdentifier
    let watchdog = Task {
        try await Task.sleep(for: limit)
        kill(pid, SIGKILL)
    }
    defer { watchdog.cancel() }
    // Both pipes are read to their end on threads of their own; the exit is awaited, never waited for.
    async let stdout = readToEnd(out.fileHandleForReading)
    async let stderr = readToEnd(err.fileHandleForReading)
    let (o, e) = await (stdout, stderr)
    return (await exit.status(), o, e)
}

/// `ashita ARGS` ready to run: no colour, no stdin, stdout and stderr on pipes.
private func makeProcess(_ arguments: [String], environment: [String: String]) -> (Process, Pipe, Pipe) {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: ashitaExecutable)
    process.arguments = arguments
    var env = ProcessInfo.processInfo.environment
    env["NO_COLOR"] = "1"
    for (key, value) in environment { env[key] = value }
    process.environment = env
    let out = Pipe()
    let err = Pipe()
    process.standardOutput = out
    process.standardError = err
    process.standardInput = FileHandle.nullDevice
    return (process, out, err)
}

private func readToEnd(_ handle: FileHandle) async -> String {
    await withCheckedContinuation { continuation in
        Thread.detachNewThread {
            continuation.resume(returning: String(decoding: handle.readDataToEndOfFile(), as: UTF8.self))
        }
    }
}
