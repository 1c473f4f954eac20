import Foundation

// ashita-bench: the figures the node issue asks for, each over several fresh nodes.
//   swift build -c release && .build/release/ashita-bench [--runs N] [--clients N] [--listeners N] [--rounds N]
//       [--only idle|auth|fanout|cli|soak|attacks|mesh, or several joined by commas] [--sizes 10,30,60] [--chart PNG] [--attack NAME] [--connections N] [--churn N] [--churn-rounds N]
//   .build/release/ashita-bench --compare GIT_DIR [--original-script PATH] [--runs N] [--clients N] ...
//       the same idle, auth and fan-out loads on ashita and on the original JavaScript node, in one run, with ratios
//   ASHITA_BENCH_SERVE_FLAGS="--flag value …" adds serve flags to every ashita node; ASHITA_BENCH_TRACE=1 makes the
//   mesh part pause 3 s before each join (to attach a profiler), then print the members' CPU and who learnt what last

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
let only = CommandLine.arguments.firstIndex(of: "--only").flatMap { $0 + 1 < CommandLine.arguments.count ? CommandLine.arguments[$0 + 1] : nil }
func selected(_ name: String) -> Bool { only == nil || only!.split(separator: ",").contains { $0 == name } }
func textOption(_ name: String) -> String? {
    CommandLine.arguments.firstIndex(of: name).flatMap { $0 + 1 < CommandLine.arguments.count ? CommandLine.arguments[$0 + 1] : nil }
}

func median<T: Comparable>(_ values: [T]) -> T { values.sorted()[values.count / 2] }
func ms(_ d: Duration) -> Double { Double(d.components.seconds) * 1000 + Double(d.components.attoseconds) / 1e15 }

/// Prints and flushes, so progress shows when the output goes to a file.
func say(_ line: String) {
    print(line)
    fflush(nil)
}

func fmt(_ x: Double, _ digits: Int = 1) -> String { String(format: "%.\(digits)f", x) }

raiseFileLimit()
say("ashita-bench: node \(NodeProcess.binary)")
say("machine: \(ProcessInfo.processInfo.activeProcessorCount) cores, load average before \(loadAverage())")

if let gitDirectory = textOption("--compare") {
    let script = textOption("--original-script") ?? "../shared/bench/original-node.sh"
    try await compareWithOriginal(gitDirectory: gitDirectory, script: script)
    say("load average after \(loadAverage())")
    exit(0)
}

if selected("idle") {
    var idle: [IdleMemory] = []
    for _ in 0..<runs { idle.append(try await idleMemory()) }
    let rss = idle.map(\.rss)
    let anonymous = idle.map(\.anonymous)
    let afterPage = idle.map(\.afterPage)
    say("idle RSS (MiB), \(runs) nodes, 6 s after start: median \(fmt(median(rss))), worst \(fmt(rss.max()!)); of it anonymous (heap, not library code): median \(fmt(median(anonymous))), worst \(fmt(anonymous.max()!))   [original ashitajs: 57.5 MB]")
    say("  RSS 1 s after serving its page once (MiB): median \(fmt(median(afterPage))), worst \(fmt(afterPage.max()!))")
}

if selected("auth") {
    var authRuns: [AuthRun] = []
    for _ in 0..<runs { authRuns.append(try await authenticateMany(clients)) }
    let authed = authRuns.map { ms($0.allAuthenticated) }
    let announced = authRuns.map { ms($0.allAnnounced) }
    let rss = authRuns.map(\.rss)
    let peak = authRuns.map(\.peak)
    let cpu = authRuns.map(\.nodeCPU)
    let anonymous = authRuns.map(\.anonymous)
    say("\(clients) clients, each auth with its own home, \(runs) nodes:")
    say("  all authenticated (ms): median \(fmt(median(authed))), worst \(fmt(authed.max()!))")
    say("  all \(clients * (clients - 1) / 2) nodeDiscovered delivered (ms): median \(fmt(median(announced))), worst \(fmt(announced.max()!))   [original: 24 s]")
    say("  node CPU time (s): median \(fmt(median(cpu), 2)), worst \(fmt(cpu.max()!, 2)); the rest of the wall time is this bench's own clients on the same 2 cores")
    say("  node RSS after (MiB): median \(fmt(median(rss))), worst \(fmt(rss.max()!)); peak median \(fmt(median(peak))), worst \(fmt(peak.max()!)); anonymous median \(fmt(median(anonymous))), worst \(fmt(anonymous.max()!))   [original: 78 MB]")
    let settled = authRuns.map(\.settledRSS)
    say("  node RSS 6 s later, all still connected (MiB): median \(fmt(median(settled))), worst \(fmt(settled.max()!))")
    var upRuns: [AuthRun] = []
    for _ in 0..<runs { upRuns.append(try await authenticateMany(clients, settle: .seconds(6))) }
    let upAnnounced = upRuns.map { ms($0.allAnnounced) }
    let upRSS = upRuns.map(\.rss)
    say("  the same on nodes up for 6 s: all delivered (ms) median \(fmt(median(upAnnounced))), worst \(fmt(upAnnounced.max()!)); node RSS then (MiB) median \(fmt(median(upRSS))), worst \(fmt(upRSS.max()!))")
}

if selected("fanout") {
    var latencies: [Double] = []
    for _ in 0..<runs { latencies += try await fanOutLatency(listeners: listeners, rounds: rounds).map(ms) }
    let sorted = latencies.sorted()
    say("auth → last of \(listeners) observers has nodeDiscovered, \(runs)×\(rounds) rounds (ms): median \(fmt(median(latencies), 3)), p90 \(fmt(sorted[sorted.count * 9 / 10], 3)), p99 \(fmt(sorted[sorted.count * 99 / 100], 3)), worst \(fmt(sorted.last!, 3))   [original: 4.4 ms median]")
    var floor: [Double] = []
    for _ in 0..<runs { floor += try await FanOutProbe.floor(listeners: listeners, rounds: rounds).map(ms) }
    let floorSorted = floor.sorted()
    say("  this machine's floor, one thread writing the frame to \(listeners) loopback sockets (ms): median \(fmt(median(floor), 3)), p99 \(fmt(floorSorted[floorSorted.count * 99 / 100], 3)), worst \(fmt(floorSorted.last!, 3))")
}
if selected("cli") {
    let figures = try await cliFigures(runs: 20)
    func summary(_ d: [Duration]) -> String {
        let values = d.map(ms)
        return "median \(fmt(median(values), 2)) ms, worst \(fmt(values.max()!, 2)) ms"
    }
    say("ashita peers ADDR --json, whole process, 20 runs: \(summary(figures.peers))")
    say("curl -s ADDR/api/v1/peers, whole process, 20 runs: \(summary(figures.curl))")
    say("event on the node → its line from a running ashita watch --json, 20 events: \(summary(figures.watchDelay))")
}
if only == "mesh" {
    // Not part of the default run: N ashita nodes and N Serf agents, side by side, for each N.
    let sizes = (CommandLine.arguments.firstIndex(of: "--sizes").map { CommandLine.arguments[$0 + 1] } ?? "10,30,60")
        .split(separator: ",").compactMap { Int($0) }
    let runs = option("--runs", 3)
    say("mesh: \(runs) runs per size, sizes \(sizes); machine: 2 cores, load average before \(loadAverage())")
    say("")
    say("| N | figure | ashita median (worst) | serf median (worst) | ashita ÷ serf |")
    say("|---|---|---|---|---|")
    // `--ashita-only`: for trying a change without waiting for Serf's minute-long convergence.
    let ashitaOnly = CommandLine.arguments.contains("--ashita-only")
    var chart = MeshChart()
    for size in sizes {
        let ashita = try await measureMesh({ AshitaCluster() }, size: size, runs: runs, seed: 1)
        let serf = ashitaOnly ? ashita : try await measureMesh({ SerfCluster() }, size: size, runs: runs, seed: 1)
        func row(_ name: String, _ a: [Double], _ b: [Double], _ unit: String, _ worstIsMax: Bool = true) {
            guard !a.isEmpty, !b.isEmpty else { return say("| \(size) | \(name) (\(unit)) | n/a | n/a | n/a |") }
            let (am, bm) = (median(a), median(b))
            say("| \(size) | \(name) (\(unit)) | \(fmt(am, 1)) (\(fmt(a.max()!, 1))) | \(fmt(bm, 1)) (\(fmt(b.max()!, 1))) | \(fmt(am / bm, 3)) |")
        }
        row("all see all, each joins the first", ashita.convergeFirst, serf.convergeFirst, "ms")
        row("all see all, each joins a random earlier one", ashita.convergeRandom, serf.convergeRandom, "ms")
        row("all see a newcomer", ashita.newcomer, serf.newcomer, "ms")
        row("all see a SIGKILL", ashita.killed, serf.killed, "ms")
        row("all see a graceful leave", ashita.left, serf.left, "ms")
        row("all see a silenced member (every packet it sends dropped)", ashita.silent, serf.silent, "ms")
        row("idle RSS per member", ashita.idleRSS, serf.idleRSS, "MiB")
        row("idle CPU per member", ashita.idleCPU, serf.idleCPU, "%")
        chart.add(size: size, ashita: ashita, serf: serf)
    }
    if let path = textOption("--chart") {
        try chart.draw(to: path, title: "ashita (solid) and Serf \(serfVersion()) (dashed), \(runs) runs per N, loopback, 2 cores")
        say("chart: \(path) (gnuplot script and data beside it)")
    }
    say("load average after \(loadAverage())")
}
if only == "attacks" {
    // Not part of the default run: each attack takes half a minute and a fresh node.
    let pick = CommandLine.arguments.firstIndex(of: "--attack").flatMap { $0 + 1 < CommandLine.arguments.count ? CommandLine.arguments[$0 + 1] : nil }
    let reports = try await runAttacks(only: pick)
    say("")
    say("| attack | /healthz worst (failed) | RSS start → peak → after (MiB) | restarts | outcome |")
    say("|---|---|---|---|---|")
    for r in reports {
        say("| \(r.name) | \(fmt(ms: r.healthzWorst)) (\(r.healthzFailures)) | \(fmt(r.rssStart)) → \(fmt(r.rssPeak)) → \(fmt(r.rssAfter)) | \(r.restarts ? "yes" : "NO") | \(r.outcome) |")
    }
}
if only == "soak" {
    // Not part of the default run: it holds 10,000 sockets in this process and 10,000 in the node.
    let report = try await soak(
        connections: option("--connections", 10_000), churn: option("--churn", 1000), churnRounds: option("--churn-rounds", 5),
        observers: 100, probes: 20)
    let values = report.latencies.map(ms).sorted()
    func at(_ p: Double) -> String { fmt(values[min(values.count - 1, Int(Double(values.count) * p))], 3) }
    say("soak: \(report.connections) connections held; churn \(option("--churn", 1000)) clients × \(option("--churn-rounds", 5)) rounds")
    say("  node RSS (MiB): before churn \(fmt(report.rssBeforeChurn)), after churn \(fmt(report.rssAfterChurn)) (\(fmt((report.rssAfterChurn / report.rssBeforeChurn - 1) * 100))%), peak \(fmt(report.peakRSS))")
    say("  fan-out to 100 observers under load (ms): median \(at(0.5)), p90 \(at(0.9)), p99 \(at(0.99)), worst \(fmt(values.last ?? 0, 3)) (\(values.count) probes)")
    say("  well-behaved clients closed by the node: \(report.wellBehavedClosed); flooder closed with \(report.floodCloseCode.map(String.init) ?? "nothing"); never-reading client closed: \(report.slowReaderClosed)")
    say("  node CPU time (s): \(fmt(report.nodeCPU, 2))")
}
say("load average after \(loadAverage())")
