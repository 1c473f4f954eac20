import Foundation

/// The same loads on ashita and on the original JavaScript node in one run, alternating node by node so both
/// see the same machine: idle memory, `clients` authenticating at once, and fan-out to `listeners` observers.
/// Prints median and worst of each figure for both, and the ratio of the medians (ashita ÷ original).
func compareWithOriginal(gitDirectory: String, script: String) async throws {
    guard FileManager.default.fileExists(atPath: script) else {
        throw BenchError("no \(script): pass --original-script PATH (the project's shared bench/original-node.sh)")
    }
    let original: NodeLauncher = { try await NodeProcess(original: gitDirectory, script: script) }
    // The first start of the original may install its Debian packages: done once, before anything is timed.
    try await original().stop()
    say("side by side with the original (\(gitDirectory) at b5e6f52), \(runs) fresh nodes each")

    var rows: [(String, [Double], [Double], Int)] = []
    func row(_ name: String, _ ours: [Double], _ theirs: [Double], digits: Int = 1) {
        rows.append((name, ours, theirs, digits))
        say("  \(name): ashita \(summary(ours, digits)), original \(summary(theirs, digits))")
    }

    if selected("idle") {
        var ours: [IdleMemory] = [], theirs: [IdleMemory] = []
        for _ in 0..<runs {
            ours.append(try await idleMemory())
            theirs.append(try await idleMemory(original))
        }
        row("idle RSS, 6 s after start (MiB)", ours.map(\.rss), theirs.map(\.rss))
        row("RSS 1 s after serving its page once (MiB)", ours.map(\.afterPage), theirs.map(\.afterPage))
    }
    if selected("auth") {
        var ours: [AuthRun] = [], theirs: [AuthRun] = []
        for _ in 0..<runs {
            ours.append(try await authenticateMany(clients))
            theirs.append(try await authenticateMany(clients, original))
        }
        row("\(clients) clients auth: all nodeDiscovered delivered (ms)", ours.map { ms($0.allAnnounced) }, theirs.map { ms($0.allAnnounced) })
        row("\(clients) clients auth: RSS after (MiB)", ours.map(\.rss), theirs.map(\.rss))
        row(
            "node CPU per auth, fan-out included (ms)", ours.map { $0.nodeCPU * 1000 / Double(clients) },
            theirs.map { $0.nodeCPU * 1000 / Double(clients) }, digits: 3)
    }
    if selected("fanout") {
        var ours: [Double] = [], theirs: [Double] = []
        for _ in 0..<runs {
            ours += try await fanOutLatency(listeners: listeners, rounds: rounds).map(ms)
            theirs += try await fanOutLatency(listeners: listeners, rounds: rounds, original).map(ms)
        }
        row("auth → last of \(listeners) observers has nodeDiscovered, \(runs)×\(rounds) rounds (ms)", ours, theirs, digits: 3)
        say("    p99: ashita \(fmt(percentile(ours, 99), 3)), original \(fmt(percentile(theirs, 99), 3))")
    }

    say("")
    say("| figure | ashita median (worst) | original median (worst) | ashita ÷ original |")
    say("|---|---|---|---|")
    for (name, ours, theirs, digits) in rows {
        say("| \(name) | \(fmt(median(ours), digits)) (\(fmt(ours.max()!, digits))) | \(fmt(median(theirs), digits)) (\(fmt(theirs.max()!, digits))) | \(fmt(median(ours) / median(theirs), 3)) |")
    }
}

private func summary(_ values: [Double], _ digits: Int) -> String {
    "median \(fmt(median(values), digits)), worst \(fmt(values.max()!, digits))"
}

private func percentile(_ values: [Double], _ p: Int) -> Double {
    let sorted = values.sorted()
    return sorted[min(sorted.count - 1, sorted.count * p / 100)]
}
