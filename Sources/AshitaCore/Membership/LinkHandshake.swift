/// The first messages on a link, before any `LinkMessage`: the dialler says who it is and sends a fresh challenge;
/// the acceptor says who it is, answers that challenge and sends its own; the dialler answers it. Each answer is
/// a signature with the key of the record its sender showed, so neither end can pose as another node, and an
/// answer recorded on one link is worthless on the next (the challenge is new each time).
public enum LinkGreeting: Equatable, Sendable {
    /// `answer` is nil from the dialler and the acceptor's answer to the dialler's challenge otherwise.
    /// `isolated`: the dialler has no other link, so a full acceptor should make room for it.
    case hello(record: MemberRecord, challenge: [UInt8], isolated: Bool, answer: [UInt8]?)
    case proof(answer: [UInt8])

    public static let challengeBytes = 32

    public func encoded() -> [UInt8] {
        var fields: [String: JSONValue]
        switch self {
        case .hello(let record, let challenge, let isolated, let answer):
            fields = [
                "type": .string("hello"), "record": LinkMessage.json(record), "challenge": .string(Hex.encode(challenge)),
                "isolated": .bool(isolated),
            ]
            if let answer { fields["answer"] = .string(Hex.encode(answer)) }
        case .proof(let answer):
            fields = ["type": .string("proof"), "answer": .string(Hex.encode(answer))]
        }
        return LinkMessage.encodeJSON(.object(fields))
    }

    public static func decode(_ bytes: some Collection<UInt8>) -> Result<LinkGreeting, LinkMessageError> {
        guard bytes.count <= 4096 else { return .failure(LinkMessageError("greeting of \(bytes.count) bytes exceeds 4096")) }
        guard case .success(let value) = StrictJSON.parse(bytes), case .object(let fields) = value,
            case .string(let type)? = fields["type"]
        else { return .failure(LinkMessageError("greeting is not a JSON object with a \"type\"")) }
        do {
            switch type {
            case "hello":
                guard let record = fields["record"] else { throw LinkMessageError("hello has no \"record\"") }
                guard let challenge = Hex.decode(try LinkMessage.string(fields, "challenge", limit: 2 * challengeBytes)),
                    challenge.count == challengeBytes
                else { throw LinkMessageError("hello has no \(challengeBytes)-byte hex \"challenge\"") }
                guard case .bool(let isolated)? = fields["isolated"] else { throw LinkMessageError("hello has no boolean \"isolated\"") }
                var answer: [UInt8]?
                if fields["answer"] != nil {
                    answer = Hex.decode(try LinkMessage.string(fields, "answer", limit: 128))
                    guard answer != nil else { throw LinkMessageError("hello's \"answer\" is not hex") }
                }
                return .success(.hello(record: try LinkMessage.record(record), challenge: challenge, isolated: isolated, answer: answer))
            case "proof":
                guard let answer = Hex.decode(try LinkMessage.string(fields, "answer", limit: 128)) else {
                    throw LinkMessageError("proof's \"answer\" is not hex")
                }
                return .success(.proof(answer: answer))
            default:
                throw LinkMessageError("a link begins with hello and proof, not \(quoted(type))")
            }
        } catch let error as LinkMessageError {
            return .failure(error)
        } catch {
            return .failure(LinkMessageError("\(error)"))
        }
    }
}

/// One end's side of a link's greeting. Pure: the challenge (fresh random bytes) and the signing are given in.
public struct LinkHandshake: Sendable {
    public enum Role: Sendable { case dialer, acceptor }

    /// What the edge does after a message.
    public enum Step: Equatable, Sendable {
        /// Send this and wait for the next message.
        case reply(LinkGreeting)
        /// The other end has proved it holds `peer.key`; send `reply` if there is one, then the link is up.
        case established(peer: ProvenRecord, isolated: Bool, reply: LinkGreeting?)
        /// Close the link: the other end is not who it says, or does not speak the greeting.
        case failed(String)
    }

    enum State: Sendable {
        case waitingHello
        case waitingProof(peer: ProvenRecord, isolated: Bool)
        case over
    }

    public let role: Role
    let signing: any MemberSigning
    let own: MemberRecord
    let challenge: [UInt8]
    let isolated: Bool
    var state = State.waitingHello

    public init(role: Role, own: MemberRecord, signing: any MemberSigning, challenge: [UInt8], isolated: Bool = false) {
        precondition(challenge.count == LinkGreeting.challengeBytes, "a challenge is \(LinkGreeting.challengeBytes) bytes")
        self.role = role
        self.own = own
        self.signing = signing
        self.challenge = challenge
        self.isolated = isolated
    }

    /// What the dialler sends first; nothing for the acceptor.
    public var opening: LinkGreeting? {
        role == .dialer ? .hello(record: own, challenge: challenge, isolated: isolated, answer: nil) : nil
    }

    /// What a challenge's answer signs: a prefix that makes it mean nothing outside a link's greeting.
    public static func answered(_ challenge: [UInt8]) -> [UInt8] { Array("ashita-link:\(Hex.encode(challenge))".utf8) }

    public mutating func receive(_ bytes: some Collection<UInt8>) -> Step {
        switch LinkGreeting.decode(bytes) {
        case .failure(let error):
            state = .over
            return .failed(error.description)
        case .success(let greeting):
            let step = receive(greeting)
            if case .failed = step { state = .over }
            return step
        }
    }

    mutating func receive(_ greeting: LinkGreeting) -> Step {
        switch (state, role, greeting) {
        case (.waitingHello, .acceptor, .hello(let record, let theirs, let isolated, nil)):
            let peer: ProvenRecord
            do { peer = try ProvenRecord(checking: record, signing: signing) } catch { return .failed(error.description) }
            state = .waitingProof(peer: peer, isolated: isolated)
            return .reply(.hello(record: own, challenge: challenge, isolated: false, answer: signing.sign(Self.answered(theirs))))
        case (.waitingHello, .dialer, .hello(let record, let theirs, _, let answer?)):
            let peer: ProvenRecord
            do { peer = try ProvenRecord(checking: record, signing: signing) } catch { return .failed(error.description) }
            guard signing.isValid(answer, of: Self.answered(challenge), key: record.key) else {
                return .failed("the answer to this node's challenge is not signed with \(record.id)'s key")
            }
            state = .over
            return .established(peer: peer, isolated: false, reply: .proof(answer: signing.sign(Self.answered(theirs))))
        case (.waitingProof(let peer, let isolated), .acceptor, .proof(let answer)):
            guard signing.isValid(answer, of: Self.answered(challenge), key: peer.record.key) else {
                return .failed("the answer to this node's challenge is not signed with \(peer.record.id)'s key")
            }
            state = .over
            return .established(peer: peer, isolated: isolated, reply: nil)
        default:
            return .failed("unexpected \(Self.name(greeting)) in the link's greeting")
        }
    }

    static func name(_ greeting: LinkGreeting) -> String {
        switch greeting {
        case .hello(_, _, _, nil): "hello"
        case .hello: "answered hello"
        case .proof: "proof"
        }
    }
}

/// A node's own alive record with its signature checked against its own key: what a link's greeting shows of the
/// other end. Only that check makes one, so `Membership.linkUp`, which takes one, does not check it again (each
/// check is an Ed25519 verification; a link's two greetings took four of them before).
public struct ProvenRecord: Equatable, Sendable {
    public let record: MemberRecord

    /// Checks that `record` can be who a link's other end is: its own signed alive record, not this node's.
    public init(checking record: MemberRecord, signing: any MemberSigning) throws(LinkMessageError) {
        guard record.state == .alive, record.signer == record.id, record.evidence == nil else {
            throw LinkMessageError("a greeting carries the sender's own alive record")
        }
        guard signing.id(ofKey: record.key) == record.id else { throw LinkMessageError("the record's id \(quoted(record.id)) is not its key's") }
        guard signing.isValid(record.signature, of: record.signedBytes, key: record.key) else {
            throw LinkMessageError("the record of \(record.id) is not signed with its key")
        }
        if record.id == signing.id(ofKey: signing.publicKey) { throw LinkMessageError("a node cannot link to itself") }
        self.record = record
    }
}
