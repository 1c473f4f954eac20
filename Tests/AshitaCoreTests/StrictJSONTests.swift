import Foundation
import Testing

@testable import AshitaCore

@Suite struct StrictJSONTests {
    private func parse(_ text: String) -> Result<JSONValue, StrictJSON.SyntaxError> {
        StrictJSON.parse(Array(text.utf8))
    }

    @Test(arguments: [
        #"{}"#, #"[]"#, #"{"a":[1,-2.5e3,true,false,null,"x\"\\\/\b\f\n\r\t\u00e9\ud83d\ude00"]}"#, " \n\t{ \"a\" : 0 } ",
        #""text""#, "0", "-0.5e+1", "1E2",
    ])
    func readsWhatFoundationReads(_ text: String) throws {
        let ours = try parse(text).get()
        let foundation = try JSONDecoder().decode(JSONValue.self, from: Data(text.utf8))
        #expect(ours == foundation)
    }

    @Test(arguments: [
        (#"{"type":"auth","type":"ping"}"#, #"duplicate key "type" at byte 15"#),
        (#"{"content":{"n":1e999}}"#, #"number "1e999" is out of range at byte 16"#),
        (#"{"a":-1e400}"#, #"number "-1e400" is out of range at byte 5"#),
        ("{", "expected a key in quotes at byte 1"), (#"{"a" 1}"#, "expected : after a key at byte 5"),
        (#"{"a":1,}"#, "expected a key in quotes at byte 7"), (#"[1,]"#, "expected a value, found ']' at byte 3"),
        ("01", "number with a leading zero at byte 0"), ("1.", "expected digits after the decimal point at byte 2"),
        ("tru", "expected true at byte 3"), (#""a"#, "unterminated string at byte 0"),
        ("\"\u{1}\"", "control character byte 0x1 in a string at byte 1"), (#""\x""#, #"unknown escape \'x' at byte 1"#),
        (#""\ud800""#, #"\u escape is half of a surrogate pair at byte 1"#), ("{} x", "unexpected text after the value at byte 3"),
        ("", "expected a value, found the end at byte 0"), ("NaN", "expected a value, found 'N' at byte 0"),
    ])
    func saysWhatIsWrongAndWhere(_ text: String, _ message: String) {
        guard case .failure(let error) = parse(text) else {
            Issue.record("accepted \(text)")
            return
        }
        #expect(error.description == message)
    }

    @Test func boundsNesting() {
        let deep = String(repeating: "[", count: 33) + String(repeating: "]", count: 33)
        #expect(parse(deep) == .failure(.init(problem: "nested deeper than 32 levels", offset: 32)))
        let fine = String(repeating: "[", count: 32) + String(repeating: "]", count: 32)
        #expect((try? parse(fine).get()) != nil)
        // Objects count as arrays do.
        let deepObject = String(repeating: #"{"a":"#, count: 33) + "1" + String(repeating: "}", count: 33)
        #expect(parse(deepObject) == .failure(.init(problem: "nested deeper than 32 levels", offset: 160)))
        // A million brackets cost one refusal, not a stack overflow.
        let hostile = String(repeating: "[", count: 1_000_000)
        #expect((try? parse(hostile).get()) == nil)
    }

    @Test func framesWithDuplicateKeysOrHugeNumbersAreRefusedWithTheReason() {
        guard case .failure(let duplicate) = ClientMessage.decode(Array(#"{"type":"auth","type":"ping"}"#.utf8)) else {
            Issue.record("accepted a frame with two types")
            return
        }
        #expect(duplicate == ProtocolViolation(.badJSON, #"frame is not valid JSON: duplicate key "type" at byte 15"#))
        guard case .failure(let huge) = ClientMessage.decode(Array(#"{"type":"auth","content":{"x":1e999}}"#.utf8)) else {
            Issue.record("accepted 1e999")
            return
        }
        #expect(huge.message == #"frame is not valid JSON: number "1e999" is out of range at byte 30"#)
    }
}

/// Link messages are written by `JSONWriter.value`, byte for byte what Foundation's `JSONEncoder` (sorted keys,
/// slashes unescaped) wrote before: nodes of either kind read each other's messages, and signatures never
/// depended on it, but a difference would show here first.
@Suite struct LinkJSONWriterTests {
    static let values: [JSONValue] = [
        .object([
            "type": .string("gossip"), "hops": .number(3),
            "records": .array([
                .object([
                    "id": .string("3mv3hvnt7476m7cl3zymxo6sab3tdjnj"), "address": .string("127.0.0.1:41579"),
                    "incarnation": .number(1_795_786_663_687), "state": .string("alive"), "evidence": .string("unreachable"),
                ])
            ]),
        ]),
        .object(["seq": .number(9_007_199_254_740_991), "target": .string("a/b \"q\" \\ \n\r\t\u{08}\u{0C}\u{01}\u{1F} é 😀")]),
        .object(["count": .number(0), "digest": .string("00ff"), "reply": .bool(false), "z": .null, "a": .bool(true)]),
        .array([.number(-12), .number(0.5), .number(-0.25), .array([]), .object([:])]),
    ]

    @Test(arguments: values)
    func writesWhatJSONEncoderWrote(_ value: JSONValue) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        var writer = JSONWriter("")
        writer.value(value)
        #expect(String(decoding: writer.bytes, as: UTF8.self) == String(decoding: try encoder.encode(value), as: UTF8.self))
    }
}
