import Foundation

// ashita-bench: the figures the node issue asks for, each over several fresh nodes.
//   swift build -c release && .build/release/ashita-bench [--runs N] [--clients N] [--listeners N] [--rounds N]

func option(_ name: String, _ fallback: Int) -> Int {
    guard let i = CommandLine.arguments.firstIndex(of: name), i + 1 < CommandLine.arguments.count,
        let value = Int(CommandLine.arguments[i + 1]), value > 0
    else { return fallback }
    return value
}

let runs = option("--runs", 5)
let clients = option("--clients", 1000)
let listeners = option("--listeners", 50)
let rounds = option("--rounds", 200)

func median<T: Comparable>(_ values: [T]) -> T { values.sorted()[values.count / 2] }
func ms(_ d: Duration) -> Double { Double(d.components.seconds) * 1000 + Double(d.components.attoseconds) / 1e15 }
func fmt(_ x: Double, _ digits: Int = 1) -> String { String(format: "%.\(digits)f", x) }

raiseFileLimit()
print("ashita-bench: node \(NodeProcess.binary)")
print("machine: \(ProcessInfo.processInfo.activeProcessorCount) cores, load average before \(loadAverage())")

var idle: [Double] = []
for _ in 0..<runs { idle.append(try await idleMemory()) }
print("idle RSS (MiB), \(runs) nodes: median \(fmt(median(idle))), worst \(fmt(idle.max()!))   [original ashitajs: 57.5 MB]")

var authRuns: [AuthRun] = []
for _ in 0..<runs { authRuns.append(try await authenticateMany(clients)) }
let authed = authRuns.map { ms($0.allAuthenticated) }
let announced = authRuns.map { ms($0.allAnnounced) }
let rss = authRuns.map(\.rss)
let peak = authRuns.map(\.peak)
print("\(clients) clients, each auth with its own home, \(runs) nodes:")
print("  all authenticated (ms): median \(fmt(median(authed))), worst \(fmt(authed.max()!))")
print("  all \(clients * (clients - 1) / 2) nodeDiscovered delivered (ms): median \(fmt(median(announced))), worst \(fmt(announced.max()!))   [original: 24 s]")
print("  node RSS after (MiB): median \(fmt(median(rss))), worst \(fmt(rss.max()!)); peak RSS median \(fmt(median(peak))), worst \(fmt(peak.max()!))   [original: 78 MB]")

var latencies: [Double] = []
for _ in 0..<runs { latencies += try await fanOutLatency(listeners: listeners, rounds: rounds).map(ms) }
let sorted = latencies.sorted()
print("auth → last of \(listeners) observers has nodeDiscovered, \(runs)×\(rounds) rounds (ms): median \(fmt(median(latencies), 3)), p90 \(fmt(sorted[sorted.count * 9 / 10], 3)), p99 \(fmt(sorted[sorted.count * 99 / 100], 3)), worst \(fmt(sorted.last!, 3))   [original: 4.4 ms median]")
print("load average after \(loadAverage())")
