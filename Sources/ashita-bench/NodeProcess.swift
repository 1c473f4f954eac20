import Foundation
import LoopbackSockets

/// An `ashita serve` process started for a measurement: the binary beside this one, release build.
final class NodeProcess {
    let process: Process
    let port: Int
    let dataDirectory: String

    static var binary: String {
        ProcessInfo.processInfo.environment["ASHITA_BIN"]
            ?? URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("ashita").path
    }

    /// Bench nodes relay without checking announcements (the homes are made up, and checks would leave
    /// loopback) and take every connection from 127.0.0.1, where all clients come from; with `defaults` false
    /// a node runs as `ashita serve` would by default (the attacks). `prlimit` caps its open descriptors.
    /// `launcher` comes before the binary (e.g. `SilentDrop.launcher`).
    /// `ASHITA_BENCH_SERVE_FLAGS`, split at spaces: more `serve` flags for every node, to try a setting
    /// (e.g. `--sync-interval 1`) without a rebuild.
    static let flagsFromEnvironment =
        (ProcessInfo.processInfo.environment["ASHITA_BENCH_SERVE_FLAGS"] ?? "").split(separator: " ").map(String.init)

    init(extra: [String] = [], defaults: Bool = true, prlimit: Int? = nil, launcher: [String] = [], dataDirectory: String? = nil) throws {
        self.dataDirectory =
            dataDirectory
            ?? FileManager.default.temporaryDirectory.appendingPathComponent("ashita-bench-\(UUID().uuidString)").path
        process = Process()
        let serve = ["serve", "0", "--data-dir", self.dataDirectory, "--log-level", "warning"]
            + (defaults ? ["--no-verify-announcements", "--max-connections-per-ip", "20000"] : []) + extra
            + Self.flagsFromEnvironment
        let command = (prlimit.map { ["/usr/bin/prlimit", "--nofile=\($0):\($0)", "--"] } ?? []) + launcher + [Self.binary] + serve
        process.executableURL = URL(fileURLWithPath: command[0])
        process.arguments = Array(command.dropFirst())
        let out = Pipe()
        process.standardOutput = out
        process.standardInput = FileHandle.nullDevice
        // Warnings reach the bench's stderr; each fresh node's first-start note on its token would only be noise.
        let errors = Pipe()
        process.standardError = errors
        Thread.detachNewThread {
            var pending = Data()
            while case let chunk = errors.fileHandleForReading.availableData, !chunk.isEmpty {
                pending.append(chunk)
                while let newline = pending.firstIndex(of: 0x0A) {
                    let line = pending[pending.startIndex...newline]
                    pending = Data(pending[pending.index(after: newline)...])
                    if !String(decoding: line, as: UTF8.self).hasPrefix("ashita: first start:") {
                        FileHandle.standardError.write(line)
                    }
                }
            }
        }
        try process.run()
        // The node prints one line once it listens: "ashita node 127.0.0.1:PORT listening on ...".
        var text = ""
        while !text.contains("\n") {
            let chunk = out.fileHandleForReading.availableData
            guard !chunk.isEmpty else { throw BenchError("ashita serve exited before listening (binary: \(Self.binary))") }
            text += String(decoding: chunk, as: UTF8.self)
        }
        guard let match = text.firstMatch(of: /127\.0\.0\.1:(\d+) listening/), let port = Int(match.1) else {
            throw BenchError("unexpected first line from ashita serve: \(text)")
        }
        self.port = port
    }

    /// The original JavaScript node (ashitajs at commit b5e6f52), started by `script` (`original-node.sh GIT_DIR PORT`)
    /// on a free port, for side-by-side figures: run and measured, never copied from. Its output goes nowhere
    /// (it logs every message); it is ready once its port accepts a connection.
    init(original gitDirectory: String, script: String) async throws {
        dataDirectory = FileManager.default.temporaryDirectory.appendingPathComponent("ashita-bench-\(UUID().uuidString)").path
        let (listener, free) = try LoopbackSocket.listen(backlog: 1)
        close(listener)
        port = free
        process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/sh")
        process.arguments = [script, gitDirectory, "\(free)"]
        process.environment = ProcessInfo.processInfo.environment.merging(["ASHITA_ORIGINAL_DIR": dataDirectory + "-original"]) { $1 }
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        process.standardInput = FileHandle.nullDevice
        try process.run()
        // The first start unpacks the commit and may install Debian's node-express and node-ws: minutes at most.
        let deadline = ContinuousClock.now + .seconds(300)
        while true {
            if let fd = LoopbackSocket.connect(port: free) {
                close(fd)
                break
            }
            guard process.isRunning, ContinuousClock.now < deadline else {
                throw BenchError("the original node did not listen on \(free) (\(script) \(gitDirectory))")
            }
            try await Task.sleep(for: .milliseconds(50))
        }
    }

    /// Resident memory now, at its peak, and the anonymous part (heap, not shared library code), in MiB.
    func memory() throws -> (rss: Double, peak: Double, anonymous: Double) {
        try Self.memory(pid: process.processIdentifier)
    }

    static func memory(pid: Int32) throws -> (rss: Double, peak: Double, anonymous: Double) {
        let status = try String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8)
        func field(_ name: String) -> Double {
            guard let line = status.split(separator: "\n").first(where: { $0.hasPrefix(name + ":") }),
                let kb = Double(line.split(separator: " ", omittingEmptySubsequences: true).dropFirst().first ?? "")
            else { return .nan }
            return kb / 1024
        }
        return (field("VmRSS"), field("VmHWM"), field("RssAnon"))
    }

    /// CPU seconds the node has used (user + system), from /proc.
    func cpuSeconds() -> Double { Self.cpuSeconds(pid: process.processIdentifier) }

    /// CPU seconds process `pid` has used (user + system), from /proc.
    static func cpuSeconds(pid: Int32) -> Double {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
            let close = stat.lastIndex(of: ")")
        else { return .nan }
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        // After the command: state is field 3, utime 14, stime 15 (1-based over the whole line).
        let ticks = (Double(fields[11]) ?? 0) + (Double(fields[12]) ?? 0)
        return ticks / Double(sysconf(Int32(_SC_CLK_TCK)))
    }

    func stop(keepData: Bool = false) {
        process.terminate()
        process.waitUntilExit()
        if !keepData {
            try? FileManager.default.removeItem(atPath: dataDirectory)
            try? FileManager.default.removeItem(atPath: dataDirectory + "-original")
        }
    }
}

struct BenchError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// Lets this process and the nodes it starts hold a few thousand sockets.
func raiseFileLimit() {
    var limit = rlimit()
    getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
    limit.rlim_cur = limit.rlim_max
    setrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
}

func loadAverage() -> String {
    (try? String(contentsOfFile: "/proc/loadavg", encoding: .utf8))?.split(separator: " ").prefix(3).joined(separator: " ") ?? "?"
}
