import AshitaNode
import Testing

/// When the node trims its heap and releases code pages, from the CPU time it used each second.
@Suite struct ReclaimScheduleTests {
    /// Runs `schedule` over `usage` (CPU milliseconds used in each one-second tick); the ticks (1-based) at which
    /// code pages were released, and why, and those at which the heap was trimmed.
    private func run(_ usage: [Int], _ schedule: ReclaimSchedule = ReclaimSchedule()) -> (releases: [Int: ReclaimSchedule.Reason], trims: [Int]) {
        var schedule = schedule
        var releases: [Int: ReclaimSchedule.Reason] = [:]
        var trims: [Int] = []
        for (index, used) in usage.enumerated() {
            let step = schedule.next(cpuUsed: .milliseconds(used))
            if step.releaseCode { releases[index + 1] = step.reason }
            if step.trim { trims.append(index + 1) }
        }
        return (releases, trims)
    }

    @Test func anIdleNodeReleasesItsStartupCodeAtFiveSecondsAndTrimsEveryFive() {
        let (releases, trims) = run(Array(repeating: 2, count: 20))
        #expect(releases == [5: .start])
        #expect(trims == [5, 10, 15, 20])
    }

    @Test func aNodeBusyFromItsStartReleasesAtItsFirstQuietSecondOrAfterAMinute() {
        let busyThenQuiet = run(Array(repeating: 300, count: 8) + [5, 5])
        #expect(busyThenQuiet.releases == [9: .start])
        let neverQuiet = run(Array(repeating: 300, count: 70))
        #expect(neverQuiet.releases[60] == .start, "\(neverQuiet.releases)")
        #expect(neverQuiet.releases.count == 1, "a node never quiet is never done a burst")
    }

    /// A burst (a second of CPU or more since the last release) is followed by a release at the first quiet
    /// second, not during it, and not more often than every five seconds.
    @Test func aBurstsCodeIsReleasedAtTheFirstQuietSecondAfterIt() {
        let usage = Array(repeating: 2, count: 6) + Array(repeating: 400, count: 4) + [3, 3, 3]
        #expect(run(usage).releases == [5: .start, 11: .burst])
        let soonAfterStart = [2, 2, 2, 2, 2, 900, 900, 2, 2, 2]
        #expect(run(soonAfterStart).releases == [5: .start, 10: .burst], "five seconds after the last release at the soonest")
    }

    /// An idle node's few milliseconds a second add up to a burst only after minutes.
    @Test func anIdleNodeReleasesAgainOnlyEveryFewMinutes() {
        let (releases, _) = run(Array(repeating: 4, count: 600))
        #expect(releases.count == 3, "\(releases.keys.sorted())")
        #expect(releases.keys.sorted().dropFirst().allSatisfy { $0 > 250 })
    }
}
