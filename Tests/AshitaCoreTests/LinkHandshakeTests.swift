import AshitaCore
import AshitaFuzzHarness
import Testing

/// The greeting that opens a link: both ends prove their keys, and nothing recorded, borrowed or made up passes.
@Suite struct LinkHandshakeTests {
    static func node(_ seed: UInt64) -> (record: MemberRecord, signing: SimulatedSigning) {
        let signing = SimulatedSigning(seed: seed)
        let id = signing.id(ofKey: signing.publicKey)
        var record = MemberRecord(
            id: id, key: signing.publicKey, address: try! NodeAddress(parsing: "10.0.0.\(seed):8000"), incarnation: 7,
            state: .alive, signer: id)
        record.signature = signing.sign(record.signedBytes)
        return (record, signing)
    }

    static func challenge(_ byte: UInt8) -> [UInt8] { Array(repeating: byte, count: LinkGreeting.challengeBytes) }

    static func pair(dialerChallenge: UInt8 = 1, acceptorChallenge: UInt8 = 2) -> (LinkHandshake, LinkHandshake) {
        let (one, two) = (node(1), node(2))
        return (
            LinkHandshake(role: .dialer, own: one.record, signing: one.signing, challenge: challenge(dialerChallenge), isolated: true),
            LinkHandshake(role: .acceptor, own: two.record, signing: two.signing, challenge: challenge(acceptorChallenge))
        )
    }

    @Test func bothEndsProveTheirKeysAndLearnWhoTheOtherIs() throws {
        var (dialer, acceptor) = Self.pair()
        let hello = try #require(dialer.opening)
        guard case .reply(let answered) = acceptor.receive(hello.encoded()) else {
            Issue.record("the acceptor did not answer the hello")
            return
        }
        guard case .established(let acceptorRecord, _, let proof?) = dialer.receive(answered.encoded()) else {
            Issue.record("the dialler did not accept the answer")
            return
        }
        #expect(acceptorRecord.record == Self.node(2).record)
        #expect(acceptor.receive(proof.encoded()) == .established(peer: try ProvenRecord(checking: Self.node(1).record, signing: Self.node(2).signing), isolated: true, reply: nil))
    }

    @Test func anAnswerRecordedOnAnotherLinkIsWorthless() throws {
        // A stranger replays node 2's answered hello, recorded from a link whose challenge was different.
        var (recorded, acceptor) = Self.pair(dialerChallenge: 9)
        guard case .reply(let oldAnswer) = acceptor.receive(recorded.opening!.encoded()) else {
            Issue.record("no answer to record")
            return
        }
        var (dialer, _) = Self.pair(dialerChallenge: 1)
        _ = dialer.opening
        guard case .failed(let reason) = dialer.receive(oldAnswer.encoded()) else {
            Issue.record("a replayed answer was accepted")
            return
        }
        #expect(reason.contains("not signed with"))
    }

    @Test func aProofSignedWithAnotherKeyFails() throws {
        var (dialer, acceptor) = Self.pair()
        _ = acceptor.receive(dialer.opening!.encoded())
        let stranger = Self.node(3)
        let forged = LinkGreeting.proof(answer: stranger.signing.sign(LinkHandshake.answered(Self.challenge(2))))
        guard case .failed = acceptor.receive(forged.encoded()) else {
            Issue.record("a proof by another key was accepted")
            return
        }
        _ = dialer
    }

    @Test func recordsThatAreNotTheSendersOwnAliveRecordFail() {
        let (one, _) = Self.node(1)
        var borrowed = Self.node(3).record
        borrowed.address = one.address  // changed after signing
        var leftRecord = Self.node(1).record
        leftRecord.state = .left
        leftRecord.signature = Self.node(1).signing.sign(leftRecord.signedBytes)
        for record in [borrowed, leftRecord, Self.node(2).record] {
            var (_, acceptor) = Self.pair()
            let hello = LinkGreeting.hello(record: record, challenge: Self.challenge(1), isolated: false, answer: nil)
            guard case .failed = acceptor.receive(hello.encoded()) else {
                Issue.record("the acceptor took a hello with \(record.state) record of \(record.id)")
                continue
            }
        }
    }

    @Test func anythingOutOfTurnOrMalformedFails() {
        let cases: [[UInt8]] = [
            LinkGreeting.proof(answer: [1]).encoded(),
            LinkMessage.ping(seq: 1).encoded(),
            Array("{}".utf8),
            Array(repeating: UInt8(ascii: "a"), count: 5000),
            Array(#"{"type":"hello","challenge":"00","isolated":false}"#.utf8),
        ]
        for bytes in cases {
            var (_, acceptor) = Self.pair()
            guard case .failed = acceptor.receive(bytes) else {
                Issue.record("accepted \(String(decoding: bytes.prefix(60), as: UTF8.self))")
                continue
            }
            // Once failed, nothing more is taken.
            guard case .failed = acceptor.receive(Self.pair().0.opening!.encoded()) else {
                Issue.record("a failed greeting went on")
                continue
            }
        }
    }
}
