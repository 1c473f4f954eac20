import Foundation

/// The mesh benchmark's medians against N for both systems, drawn as a PNG by gnuplot (Debian's `gnuplot-nox`):
/// convergence on the left, detection on the right, time on a log scale; ashita solid, Serf dashed.
struct MeshChart {
    struct Series {
        var name: String
        var detection: Bool
        /// (N, ashita median ms, Serf median ms)
        var points: [(size: Int, ashita: Double, serf: Double)] = []
    }
    var series: [Series] = [
        Series(name: "all see all, each joins the first", detection: false),
        Series(name: "all see all, each joins a random earlier one", detection: false),
        Series(name: "all see a newcomer", detection: false),
        Series(name: "all see a SIGKILL", detection: true),
        Series(name: "all see a graceful leave", detection: true),
        Series(name: "all see a silenced member", detection: true),
    ]

    mutating func add(size: Int, ashita: MeshFigures, serf: MeshFigures) {
        let pairs = [
            (ashita.convergeFirst, serf.convergeFirst), (ashita.convergeRandom, serf.convergeRandom), (ashita.newcomer, serf.newcomer),
            (ashita.killed, serf.killed), (ashita.left, serf.left), (ashita.silent, serf.silent),
        ]
        for (index, (a, s)) in pairs.enumerated() where !a.isEmpty && !s.isEmpty {
            series[index].points.append((size, median(a), median(s)))
        }
    }

    /// Writes `path` (a PNG); the data and the gnuplot script go beside it as PATH.dat and PATH.gp.
    func draw(to path: String, title: String) throws {
        let drawn = series.filter { !$0.points.isEmpty }
        var data = ""
        for item in drawn {
            data += "# \(item.name)\n" + item.points.map { "\($0.size) \($0.ashita / 1000) \($0.serf / 1000)" }.joined(separator: "\n") + "\n\n\n"
        }
        try data.write(toFile: path + ".dat", atomically: true, encoding: .utf8)
        func panel(_ detection: Bool, _ heading: String) -> String {
            let plots = drawn.enumerated().filter { $0.element.detection == detection }.map { index, item in
                let colour = index % 3 + 1
                return "'\(path).dat' index \(index) using 1:2 with linespoints lw 2 pt 7 lc \(colour) dt 1 title 'ashita: \(item.name)', "
                    + "'' index \(index) using 1:3 with linespoints lw 2 pt 5 lc \(colour) dt 2 title 'Serf: \(item.name)'"
            }
            guard !plots.isEmpty else { return "" }
            return "set title '\(heading)'\nplot \(plots.joined(separator: ", "))\n"
        }
        let sizes = Set(drawn.flatMap { $0.points.map(\.size) }).sorted().map(String.init).joined(separator: ", ")
        let script = """
            set terminal pngcairo size 1500,760 font 'sans,11'
            set output '\(path)'
            set multiplot layout 1,2 title '\(title)'
            set logscale y
            set grid ytics mytics xtics
            set xlabel 'members (N)' offset 0,0.3
            set ylabel 'seconds until every member sees it (median)'
            set xtics (\(sizes))
            set key below horizontal maxcols 2 font ',9'
            set offsets 3, 3, 0, 0
            \(panel(false, "joining"))\(panel(true, "failure and leave detection"))unset multiplot

            """
        try script.write(toFile: path + ".gp", atomically: true, encoding: .utf8)
        let gnuplot = Process()
        gnuplot.executableURL = URL(fileURLWithPath: "/usr/bin/gnuplot")
        gnuplot.arguments = [path + ".gp"]
        try gnuplot.run()
        gnuplot.waitUntilExit()
        guard gnuplot.terminationStatus == 0 else { throw BenchError("gnuplot \(path).gp failed") }
    }
}

/// `serf version`'s first line's version ("0.8.2"), or "?".
func serfVersion() -> String {
    let process = Process()
    let out = Pipe()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/serf")
    process.arguments = ["version"]
    process.standardOutput = out
    guard (try? process.run()) != nil else { return "?" }
    let text = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    process.waitUntilExit()
    return text.firstMatch(of: /v?(\d+\.\d+\.\d+)/).map { String($0.1) } ?? "?"
}
