import AshitaClient
import Foundation

/// Wall time of whole processes, `ashita peers ADDR --json` and `curl -s URL` alike, against one node.
func processWallTimes(_ executable: String, _ arguments: [String], runs: Int) throws -> [Duration] {
    var times: [Duration] = []
    for _ in 0..<runs {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        let start = ContinuousClock.now
        try process.run()
        process.waitUntilExit()
        times.append(.now - start)
        guard process.terminationStatus == 0 else { throw BenchError("\(executable) \(arguments) exited \(process.terminationStatus)") }
    }
    return times
}

struct CLIRun {
    var peers: [Duration]
    var curl: [Duration]
    var watchDelay: [Duration]
}

/// `ashita peers --json` vs `curl -s` on a node with a few peers, and the delay from an event on the node (a
/// client's auth with a new home) to its line on the stdout of a running `ashita watch --json`.
func cliFigures(runs: Int) async throws -> CLIRun {
    let node = try NodeProcess()
    defer { node.stop() }
    let address = "127.0.0.1:\(node.port)"
    var keep: [WebSocketPeer] = []
    for i in 0..<5 {
        let peer = try await WebSocketPeer.connect(host: "127.0.0.1", port: node.port)
        try await peer.send(#"{"type":"auth","node":"10.0.0.\#(i):8000","content":{}}"#)
        keep.append(peer)
    }
    let peers = try processWallTimes(NodeProcess.binary, ["peers", address, "--json"], runs: runs)
    let curl = try processWallTimes("/usr/bin/curl", ["-s", "http://\(address)/api/v1/peers"], runs: runs)

    let watch = Process()
    watch.executableURL = URL(fileURLWithPath: NodeProcess.binary)
    watch.arguments = ["watch", address, "--json", "--types", "nodeDiscovered", "--replay"]
    let out = Pipe()
    watch.standardOutput = out
    try watch.run()
    defer { watch.terminate(); watch.waitUntilExit() }
    let reader = LineReader(out.fileHandleForReading)
    // Round 0 is not timed: with --replay it arrives even if it happened before the watch subscribed, and once
    // it has arrived the watch is live.
    var delays: [Duration] = []
    for round in 0...runs {
        let peer = try await WebSocketPeer.connect(host: "127.0.0.1", port: node.port)
        let sent = ContinuousClock.now
        try await peer.send(#"{"type":"auth","node":"watch-\#(round).example:1","content":{}}"#)
        while true {
            guard let line = reader.next() else { throw BenchError("ashita watch ended") }
            if line.contains("watch-\(round).example:1") { break }
        }
        if round > 0 { delays.append(.now - sent) }
        keep.append(peer)
    }
    for peer in keep { await peer.abort() }
    return CLIRun(peers: peers, curl: curl, watchDelay: delays)
}

/// Lines from a pipe, read on the calling thread.
final class LineReader {
    private let handle: FileHandle
    private var pending = Data()

    init(_ handle: FileHandle) { self.handle = handle }

    func next() -> String? {
        while true {
            if let newline = pending.firstIndex(of: 0x0A) {
                let line = String(decoding: pending[pending.startIndex..<newline], as: UTF8.self)
                pending = Data(pending[pending.index(after: newline)...])
                return line
            }
            let chunk = handle.availableData
            if chunk.isEmpty { return nil }
            pending.append(chunk)
        }
    }
}
