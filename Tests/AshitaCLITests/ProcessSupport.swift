import AshitaTestSupport
import AshitaClient
import Foundation
import Testing

/// A running `ashita`: its stdout as lines as they come, its stderr collected, its exit status.
final class AshitaProcess: Sendable {
    let child: ChildProcess
    let lines: AsyncStream<String>
    private let stderrText: AsyncStream<String>
    private let errorLines: AsyncStream<String>

    init(_ arguments: [String], environment: [String: String] = [:], executable: String = ashitaExecutable) throws {
        let child = try ChildProcess(executable, arguments, environment: ashitaEnvironment(environment))
        self.child = child
        let (lines, lineSink) = AsyncStream.makeStream(of: String.self)
        self.lines = lines
        let (stderrText, stderrSink) = AsyncStream.makeStream(of: String.self)
        self.stderrText = stderrText
        let (errorLines, errorLineSink) = AsyncStream.makeStream(of: String.self)
        self.errorLines = errorLines
        Self.readLines(child.standardOutput!, lineSink)
        Self.readLines(child.standardError!, errorLineSink, whole: stderrSink)
    }

    /// Reads `handle` to its end on a thread of its own: each line as it comes (a last unterminated one too),
    /// then, to `whole`, all of it.
    private static func readLines(
        _ handle: FileHandle, _ lines: AsyncStream<String>.Continuation, whole: AsyncStream<String>.Continuation? = nil
    ) {
        Thread.detachNewThread {
            var all = Data()
            var pending = Data()
            while true {
                let chunk = handle.availableData
                if chunk.isEmpty { break }
                if whole != nil { all.append(chunk) }
                pending.append(chunk)
                while let newline = pending.firstIndex(of: 0x0A) {
                    lines.yield(String(decoding: pending[pending.startIndex..<newline], as: UTF8.self))
                    pending = Data(pending[pending.index(after: newline)...])
                }
            }
            if !pending.isEmpty { lines.yield(String(decoding: pending, as: UTF8.self)) }
            lines.finish()
            whole?.yield(String(decoding: all, as: UTF8.self))
            whole?.finish()
        }
    }

    var arguments: [String] { child.arguments }

    /// The next stdout line; nil at end of output.
    func nextLine() async throws -> String? {
        try await within(15, "a line from ashita \(arguments)") {
            var iterator = self.lines.makeAsyncIterator()
            return await iterator.next()
        }
    }

    /// The next stderr line that contains `text` (earlier ones are passed over); nil at end of output.
    func nextErrorLine(containing text: String) async throws -> String? {
        try await within(15, "'\(text)' on the stderr of ashita \(arguments)") {
            for await line in self.errorLines where line.contains(text) { return line }
            return nil
        }
    }

    func signal(_ number: Int32) {
        child.signal(number)
    }

    /// Waits for the exit status (the signal's number when a signal ended it). A process that has not exited
    /// within 60 s (20 × `hangGuardPatience`) is described (its threads, their states and where each waits in the
    /// kernel) and killed, and the failure carries that and the end of its stderr: a hang in CI says what hung.
    func exitStatus() async throws -> Int32 {
        do {
            return try await within(20, "ashita \(arguments) to exit") { await self.child.status() }
        } catch let timeout as TimedOut {
            let threads = Self.threads(of: child.pid)
            child.signal(SIGKILL)
            let log = (try? await stderr()) ?? ""
            throw HungProcess(what: timeout.what, threads: threads, stderrTail: String(log.suffix(4000)))
        }
    }

    /// One line per thread of `pid`: its name, state and kernel wait channel, from /proc.
    private static func threads(of pid: pid_t) -> String {
        let tasks = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/task")) ?? []
        return tasks.sorted().map { task in
            let base = "/proc/\(pid)/task/\(task)"
            let name = (try? String(contentsOfFile: "\(base)/comm", encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines) ?? "?"
            let stat = (try? String(contentsOfFile: "\(base)/stat", encoding: .utf8)) ?? ""
            let state = stat.split(separator: ")").last?.split(separator: " ").first.map(String.init) ?? "?"
            let channel = (try? String(contentsOfFile: "\(base)/wchan", encoding: .utf8)) ?? "?"
            return "\(task) \(name) \(state) \(channel)"
        }.joined(separator: "\n")
    }

    /// Everything the process wrote to stderr, once its stderr has closed (at exit).
    func stderr() async throws -> String {
        try await within(20, "stderr of ashita \(arguments)") {
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
    try await runToEnd(ashitaExecutable, arguments, environment: ashitaEnvironment(environment), limit: .seconds(30))
}

/// The tests' environment for `ashita`: no colour, and `extra` on top.
private func ashitaEnvironment(_ extra: [String: String]) -> [String: String] {
    var environment = ProcessInfo.processInfo.environment
    environment["NO_COLOR"] = "1"
    for (key, value) in extra { environment[key] = value }
    return environment
}

/// A process that did not exit when it should have: its threads as it hung, and the end of its stderr.
struct HungProcess: Error, CustomStringConvertible {
    var what: String
    var threads: String
    var stderrTail: String
    var description: String {
        "timed out waiting for \(what); its threads (id, name, state, kernel wait):\n\(threads)\nthe end of its stderr:\n\(stderrTail)"
    }
}
