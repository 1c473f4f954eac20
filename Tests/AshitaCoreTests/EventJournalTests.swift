import Testing

@testable import AshitaCore

@Suite struct EventJournalTests {
    @Test func resumesAfterTheLastSeenIdAndSaysWhenEntriesAreGone() {
        var journal = EventJournal(boot: "k1", capacity: 3)
        for i in 1...5 {
            _ = journal.append(type: "nodeLeft", content: JournalContent(nodeIp: "h:\(i)"), at: Timestamp(milliseconds: Int64(i)))
        }
        #expect(journal.entries.map(\.id) == ["k1-3", "k1-4", "k1-5"])
        #expect(journal.entries(after: "k1-4").entries.map(\.id) == ["k1-5"])
        #expect(journal.entries(after: "k1-4").missed == false)
        #expect(journal.entries(after: "k1-1").missed == true)
        #expect(journal.entries(after: "k1-5").entries.isEmpty)
        // Another boot's id: the node restarted, so everything held is new to the subscriber.
        #expect(journal.entries(after: "k0-9").entries.count == 3)
        #expect(journal.entries(after: "0").entries.count == 3)
        #expect(journal.entries(after: "0").missed, "this run dropped its first two")
        #expect(EventJournal(boot: "k2").entries(after: "0").missed == false)
        #expect(journal.entries(after: nil).entries.isEmpty, "a new subscriber gets live events only")
    }

    /// Any id a client sends as `Last-Event-ID`, the largest number included, is answered, never a trap.
    @Test(arguments: ["k1-18446744073709551615", "k1-18446744073709551614", "k1-0", "k1--1", "k1-", "-", "k1-99999999999999999999"])
    func anyLastEventIDIsAnswered(_ id: String) {
        var journal = EventJournal(boot: "k1", capacity: 3)
        _ = journal.append(type: "nodeLeft", content: JournalContent(nodeIp: "h:1"), at: Timestamp(milliseconds: 1))
        let (entries, _) = journal.entries(after: id)
        #expect(entries.count <= 1)
    }

    @Test(arguments: [
        (Int64(0), "1970-01-01T00:00:00.000Z"), (951_782_400_000, "2000-02-29T00:00:00.000Z"),
        (1_795_678_245_123, "2026-11-26T07:30:45.123Z"), (-1, "1969-12-31T23:59:59.999Z"),
    ])
    func formatsTimesAsRFC3339(_ ms: Int64, _ text: String) {
        #expect(Timestamp(milliseconds: ms).iso8601 == text)
    }

    @Test func encodesOneStableObject() {
        var journal = EventJournal(boot: "k", capacity: 2)
        let entry = journal.append(type: "nodeDiscovered", content: JournalContent(nodeIp: "a:1"), at: Timestamp(milliseconds: 0))
        #expect(String(decoding: entry.encoded(), as: UTF8.self)
            == #"{"content":{"nodeIp":"a:1"},"id":"k-1","time":"1970-01-01T00:00:00.000Z","type":"nodeDiscovered"}"#)
    }
}
