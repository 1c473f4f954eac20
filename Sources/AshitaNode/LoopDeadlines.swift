import NIOCore

/// What a `LoopDeadlines` calls when one of its deadlines comes.
protocol DeadlineTarget: AnyObject {
    func deadlinePassed()
}

/// The deadlines of the WebSockets on one event loop (each one's auth deadline and heartbeat) and of its links
/// (their transport watch), under one NIO timer.
///
/// A timer of NIO's own costs a connection about 380 bytes while it waits (the task, its closure and promise, its
/// place in the loop's queue; heaptrack, 10,000 idle WebSockets): 750 bytes for a WebSocket's two. Here a deadline
/// costs an entry in a dictionary and one in its slot's list. Deadlines are rounded up to `resolution`; the timer
/// is armed for the earliest slot only. Used on its event loop only (`NIOLoopBound`).
final class LoopDeadlines {
    typealias Token = UInt64

    private let eventLoop: any EventLoop
    private let resolution: Int64
    private var targets: [Token: any DeadlineTarget] = [:]
    /// Tokens by slot (deadline ÷ resolution, rounded up); a cancelled token stays until its slot comes.
    private var slots: [Int64: [Token]] = [:]
    /// The slots in `slots`, earliest first.
    private var order = SlotHeap()
    private var nextToken: Token = 1
    private var timer: Scheduled<Void>?
    private var armedSlot: Int64?
    private var firing = false
    private var stopped = false

    init(eventLoop: any EventLoop, resolution: TimeAmount = .milliseconds(10)) {
        self.eventLoop = eventLoop
        self.resolution = max(1, resolution.nanoseconds)
    }

    /// Deadlines waiting (cancelled ones excluded).
    var count: Int { targets.count }

    /// Calls `target.deadlinePassed()` once, `delay` from now (up to `resolution` later), unless cancelled first.
    func schedule(in delay: TimeAmount, _ target: any DeadlineTarget) -> Token {
        eventLoop.preconditionInEventLoop()
        let token = nextToken
        nextToken += 1
        guard !stopped else { return token }
        let due = (NIODeadline.now() + delay).uptimeNanoseconds
        let slot = Int64((due + UInt64(resolution) - 1) / UInt64(resolution))
        targets[token] = target
        if slots[slot] == nil {
            slots[slot] = [token]
            order.insert(slot)
        } else {
            slots[slot]!.append(token)
        }
        if !firing, armedSlot.map({ slot < $0 }) ?? true { arm(slot) }
        return token
    }

    func cancel(_ token: Token) {
        targets[token] = nil
    }

    /// Cancels every deadline and the timer: the server is stopping.
    func stop() {
        stopped = true
        timer?.cancel()
        timer = nil
        targets = [:]
        slots = [:]
        order = SlotHeap()
    }

    private func arm(_ slot: Int64) {
        timer?.cancel()
        armedSlot = slot
        let this = NIOLoopBound(self, eventLoop: eventLoop)
        timer = eventLoop.scheduleTask(deadline: .uptimeNanoseconds(UInt64(slot * resolution))) { this.value.fire() }
    }

    private func fire() {
        timer = nil
        armedSlot = nil
        guard !stopped else { return }
        let now = Int64(NIODeadline.now().uptimeNanoseconds / UInt64(resolution))
        firing = true
        while let slot = order.min, slot <= now {
            order.removeMin()
            for token in slots.removeValue(forKey: slot) ?? [] {
                targets.removeValue(forKey: token)?.deadlinePassed()
            }
        }
        firing = false
        if let next = order.min, !stopped { arm(next) }
    }
}

/// A binary min-heap of slot numbers.
struct SlotHeap {
    private var items: [Int64] = []

    var min: Int64? { items.first }

    mutating func insert(_ slot: Int64) {
        items.append(slot)
        var child = items.count - 1
        while child > 0 {
            let parent = (child - 1) / 2
            guard items[child] < items[parent] else { break }
            items.swapAt(child, parent)
            child = parent
        }
    }

    mutating func removeMin() {
        guard !items.isEmpty else { return }
        items.swapAt(0, items.count - 1)
        items.removeLast()
        var parent = 0
        while true {
            let left = 2 * parent + 1
            let right = left + 1
            var smallest = parent
            if left < items.count, items[left] < items[smallest] { smallest = left }
            if right < items.count, items[right] < items[smallest] { smallest = right }
            guard smallest != parent else { return }
            items.swapAt(parent, smallest)
            parent = smallest
        }
    }
}

/// One `LoopDeadlines` for each event loop of the node's group, made at start and stopped at the end of its run.
struct LoopDeadlinesTable: Sendable {
    private let byLoop: [ObjectIdentifier: NIOLoopBound<LoopDeadlines>]

    static func make(for group: any EventLoopGroup) async throws -> LoopDeadlinesTable {
        var byLoop: [ObjectIdentifier: NIOLoopBound<LoopDeadlines>] = [:]
        for loop in group.makeIterator() {
            byLoop[ObjectIdentifier(loop)] = try await loop.submit { NIOLoopBound(LoopDeadlines(eventLoop: loop), eventLoop: loop) }.get()
        }
        return LoopDeadlinesTable(byLoop: byLoop)
    }

    /// The deadlines of `loop`, one of the group's; on that loop.
    func on(_ loop: any EventLoop) -> LoopDeadlines {
        guard let deadlines = byLoop[ObjectIdentifier(loop)] else {
            preconditionFailure("a connection on an event loop outside the node's group")
        }
        return deadlines.value
    }

    /// Cancels every deadline and timer, each on its own loop.
    func stopAll() async {
        for deadlines in byLoop.values {
            try? await deadlines.eventLoop.submit { deadlines.value.stop() }.get()
        }
    }
}
