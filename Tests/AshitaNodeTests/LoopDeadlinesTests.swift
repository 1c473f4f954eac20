@testable import AshitaNode
import NIOCore
import NIOPosix
import Testing

/// The one timer per event loop behind every WebSocket's auth deadline and heartbeat.
@Suite struct LoopDeadlinesTests {
    /// Notes its name when its deadline passes; the last one expected completes `done`.
    final class Recorder: DeadlineTarget {
        let name: String
        let log: NIOLoopBoundBox<[String]>
        let done: EventLoopPromise<Void>?
        var again: (remaining: Int, deadlines: LoopDeadlines, delay: TimeAmount)?

        init(_ name: String, log: NIOLoopBoundBox<[String]>, done: EventLoopPromise<Void>? = nil) {
            self.name = name
            self.log = log
            self.done = done
        }

        func deadlinePassed() {
            log.value.append(name)
            if var again, again.remaining > 0 {
                again.remaining -= 1
                self.again = again
                _ = again.deadlines.schedule(in: again.delay, self)
                return
            }
            done?.succeed()
        }
    }

    private let loop = MultiThreadedEventLoopGroup.singleton.next()

    /// Runs `setUp` on the loop with an empty log and the promise the test's last deadline completes; once it has,
    /// the names of the targets whose deadlines passed, in order.
    private func passed(
        _ setUp: @escaping @Sendable (_ log: NIOLoopBoundBox<[String]>, _ done: EventLoopPromise<Void>) -> Void
    ) async throws -> [String] {
        let loop = self.loop
        let done = loop.makePromise(of: Void.self)
        let log = try await loop.submit {
            let log = NIOLoopBoundBox([String](), eventLoop: loop)
            setUp(log, done)
            return log
        }.get()
        try await done.futureResult.get()
        return try await loop.submit { log.value }.get()
    }

    @Test func deadlinesPassInTheirOrderOnceAndCancelledOnesNever() async throws {
        let loop = self.loop
        let fired = try await passed { log, done in
            let deadlines = LoopDeadlines(eventLoop: loop)
            _ = deadlines.schedule(in: .milliseconds(60), Recorder("late", log: log))
            _ = deadlines.schedule(in: .milliseconds(20), Recorder("early", log: log))
            let cancelled = deadlines.schedule(in: .milliseconds(40), Recorder("cancelled", log: log))
            _ = deadlines.schedule(in: .milliseconds(40), Recorder("middle", log: log))
            _ = deadlines.schedule(in: .milliseconds(100), Recorder("last", log: log, done: done))
            deadlines.cancel(cancelled)
            #expect(deadlines.count == 4)
        }
        #expect(fired == ["early", "middle", "late", "last"])
    }

    /// A heartbeat schedules its next ping from the deadline that just passed.
    @Test func aTargetMayScheduleAgainWhenItsDeadlinePasses() async throws {
        let loop = self.loop
        let fired = try await passed { log, done in
            let deadlines = LoopDeadlines(eventLoop: loop)
            let beat = Recorder("beat", log: log, done: done)
            beat.again = (remaining: 4, deadlines: deadlines, delay: .milliseconds(10))
            _ = deadlines.schedule(in: .milliseconds(10), beat)
        }
        #expect(fired == Array(repeating: "beat", count: 5))
    }

    /// Stopped (the node's run ends), nothing passes any more, and nothing new is taken.
    @Test func aStoppedTableCallsNobody() async throws {
        let loop = self.loop
        let fired = try await passed { log, done in
            let stopped = LoopDeadlines(eventLoop: loop)
            _ = stopped.schedule(in: .milliseconds(10), Recorder("stopped", log: log))
            stopped.stop()
            _ = stopped.schedule(in: .milliseconds(10), Recorder("after stop", log: log))
            #expect(stopped.count == 0)
            // Well after both would have passed.
            _ = LoopDeadlines(eventLoop: loop).schedule(in: .milliseconds(80), Recorder("witness", log: log, done: done))
        }
        #expect(fired == ["witness"])
    }

    @Test func theSlotHeapGivesItsSlotsBackInOrder() {
        var random = SystemRandomNumberGenerator()
        var heap = SlotHeap()
        let slots = (0..<500).map { _ in Int64.random(in: -1000...1000, using: &random) }
        for slot in slots { heap.insert(slot) }
        var out: [Int64] = []
        while let slot = heap.min {
            out.append(slot)
            heap.removeMin()
        }
        #expect(out == slots.sorted())
    }
}
