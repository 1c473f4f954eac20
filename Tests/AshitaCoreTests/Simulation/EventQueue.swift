/// A priority queue of timed events, earliest first and, at one time, first in first out: the simulator's order
/// never depends on anything but the seed. The heap moves small keys; events stay where they were put.
struct EventQueue<Event> {
    private struct Key {
        var time: Int64
        var order: UInt64
        var slot: Int
    }
    private var heap: [Key] = []
    private var slots: [Event?] = []
    private var freeSlots: [Int] = []
    private var counter: UInt64 = 0

    var isEmpty: Bool { heap.isEmpty }
    var count: Int { heap.count }
    var nextTime: Int64? { heap.first?.time }

    mutating func push(_ event: Event, at time: Int64) {
        counter += 1
        let slot: Int
        if let free = freeSlots.popLast() {
            slot = free
            slots[slot] = event
        } else {
            slot = slots.count
            slots.append(event)
        }
        heap.append(Key(time: time, order: counter, slot: slot))
        var child = heap.count - 1
        while child > 0 {
            let parent = (child - 1) / 2
            guard before(heap[child], heap[parent]) else { break }
            heap.swapAt(child, parent)
            child = parent
        }
    }

    mutating func pop() -> (time: Int64, event: Event)? {
        guard !heap.isEmpty else { return nil }
        heap.swapAt(0, heap.count - 1)
        let top = heap.removeLast()
        var parent = 0
        while true {
            let left = 2 * parent + 1
            let right = left + 1
            var first = parent
            if left < heap.count, before(heap[left], heap[first]) { first = left }
            if right < heap.count, before(heap[right], heap[first]) { first = right }
            guard first != parent else { break }
            heap.swapAt(parent, first)
            parent = first
        }
        let event = slots[top.slot]!
        slots[top.slot] = nil
        freeSlots.append(top.slot)
        return (top.time, event)
    }

    private func before(_ x: Key, _ y: Key) -> Bool {
        x.time < y.time || (x.time == y.time && x.order < y.order)
    }
}
