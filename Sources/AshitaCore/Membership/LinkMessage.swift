#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// What crosses a link between two nodes once both have proved their ids: liveness checks and gossip.
public enum LinkMessage: Equatable, Sendable {
    /// Are you there? Answered with `ack` of the same number.
    case ping(seq: UInt64)
    case ack(seq: UInt64)
    /// Ask a neighbour to ping `target` over its own link and pass the `ack` back, or answer `nack` when it
    /// cannot: the asker learns that its own links still work (Lifeguard's local health).
    case pingRequest(seq: UInt64, target: String)
    case nack(seq: UInt64)
    /// Member records, new to the sender, and how many links they have crossed.
    case gossip(hops: Int, records: [MemberRecord])
    /// How many members the sender knows and a digest of their states: a neighbour whose own differ answers
    /// with what it holds (`have`), member by member (anti-entropy). `reply` is read and ignored (older nodes set it).
    case summary(count: Int, digest: UInt64, reply: Bool)
    /// Every member the sender holds, each as id, incarnation and state: the neighbour sends back, as gossip, only
    /// the records the sender lacks or holds older, and — unless `reply` — its own `have` when the sender holds
    /// something it lacks. A table of more than `maxHaveEntries` members goes whole instead.
    case have(members: [MemberDigest], reply: Bool)
    /// The link's other end broke a rule; the message was dropped.
    case error(code: String, message: String)

    /// Bounds on what a link may carry, so a hostile node cannot make one message expensive.
    public static let maxBytes = 256 * 1024
    public static let maxRecords = 64
    public static let maxHops = 32
    /// Members one `have` lists at most (an entry is at most about 100 bytes of JSON, within `maxBytes`).
    public static let maxHaveEntries = 2048
    /// Numbers travel as JSON numbers: integers up to 2^53 survive every decoder.
    static let maxNumber: UInt64 = 1 << 53

    public var type: String {
        switch self {
        case .ping: "ping"
        case .ack: "ack"
        case .pingRequest: "pingReq"
        case .nack: "nack"
        case .gossip: "gossip"
        case .summary: "summary"
        case .have: "have"
        case .error: "error"
        }
    }

    public func encoded() -> [UInt8] {
        var fields: [String: JSONValue] = ["type": .string(type)]
        switch self {
        case .ping(let seq), .ack(let seq), .nack(let seq):
            fields["seq"] = .number(Double(seq))
        case .pingRequest(let seq, let target):
            fields["seq"] = .number(Double(seq))
            fields["target"] = .string(target)
        case .gossip(let hops, let records):
            fields["hops"] = .number(Double(hops))
            fields["records"] = .array(records.map(Self.json))
        case .summary(let count, let digest, let reply):
            fields["count"] = .number(Double(count))
            fields["digest"] = .string(Hex.encode(withUnsafeBytes(of: digest.bigEndian) { Array($0) }))
            fields["reply"] = .bool(reply)
        case .have(let members, let reply):
            fields["members"] = .array(
                members.map { .array([.string($0.id), .number(Double($0.incarnation)), .string($0.state.rawValue)]) })
            fields["reply"] = .bool(reply)
        case .error(let code, let message):
            fields["code"] = .string(code)
            fields["message"] = .string(message)
        }
        return Self.encodeJSON(.object(fields))
    }

    static func encodeJSON(_ value: JSONValue) -> [UInt8] {
        var writer = JSONWriter("")
        writer.value(value)
        return writer.bytes
    }

    static func json(_ record: MemberRecord) -> JSONValue {
        var fields: [String: JSONValue] = [
            "id": .string(record.id), "key": .string(Hex.encode(record.key)), "address": .string(record.address.description),
            "incarnation": .number(Double(record.incarnation)), "state": .string(record.state.rawValue),
            "signer": .string(record.signer), "signature": .string(Hex.encode(record.signature)),
        ]
        if let evidence = record.evidence { fields["evidence"] = .string(evidence.rawValue) }
        return .object(fields)
    }

    /// Decodes one message from a link. Never traps; says what was wrong in words fit for the other node's log.
    public static func decode(_ bytes: some Collection<UInt8>) -> Result<LinkMessage, LinkMessageError> {
        guard bytes.count <= maxBytes else {
            return .failure(LinkMessageError("message of \(bytes.count) bytes exceeds \(maxBytes)"))
        }
        guard case .success(let value) = StrictJSON.parse(bytes), case .object(let fields) = value else {
            return .failure(LinkMessageError("message is not a JSON object"))
        }
        guard case .string(let type)? = fields["type"] else {
            return .failure(LinkMessageError("message has no string \"type\""))
        }
        do {
            switch type {
            case "ping": return .success(.ping(seq: try number(fields, "seq")))
            case "ack": return .success(.ack(seq: try number(fields, "seq")))
            case "nack": return .success(.nack(seq: try number(fields, "seq")))
            case "pingReq":
                return .success(.pingRequest(seq: try number(fields, "seq"), target: try string(fields, "target", limit: 64)))
            case "gossip":
                let hops = try number(fields, "hops")
                guard hops <= UInt64(maxHops) else { throw LinkMessageError("gossip has crossed \(hops) links, more than \(maxHops)") }
                guard case .array(let items)? = fields["records"] else { throw LinkMessageError("gossip has no \"records\" array") }
                guard items.count <= maxRecords else {
                    throw LinkMessageError("gossip carries \(items.count) records, more than \(maxRecords)")
                }
                return .success(.gossip(hops: Int(hops), records: try items.map(record)))
            case "summary":
                guard let digest = Hex.decode(try string(fields, "digest", limit: 16)), digest.count == 8 else {
                    throw LinkMessageError("summary has no 8-byte hex \"digest\"")
                }
                guard case .bool(let reply)? = fields["reply"] else { throw LinkMessageError("summary has no boolean \"reply\"") }
                let count = try number(fields, "count")
                return .success(.summary(count: Int(min(count, 1 << 32)), digest: digest.reduce(0) { $0 << 8 | UInt64($1) }, reply: reply))
            case "have":
                guard case .array(let items)? = fields["members"] else { throw LinkMessageError("have has no \"members\" array") }
                guard items.count <= maxHaveEntries else {
                    throw LinkMessageError("have lists \(items.count) members, more than \(maxHaveEntries)")
                }
                guard case .bool(let reply)? = fields["reply"] else { throw LinkMessageError("have has no boolean \"reply\"") }
                let members = try items.map(digest)
                guard Set(members.map(\.id)).count == members.count else { throw LinkMessageError("have lists a member twice") }
                return .success(.have(members: members, reply: reply))
            case "error":
                return .success(.error(code: try string(fields, "code", limit: 64), message: try string(fields, "message", limit: 512)))
            default:
                return .failure(LinkMessageError("unknown message type \(quoted(type))"))
            }
        } catch let error as LinkMessageError {
            return .failure(error)
        } catch {
            return .failure(LinkMessageError("\(error)"))
        }
    }

    static func record(_ value: JSONValue) throws -> MemberRecord {
        guard case .object(let fields) = value else { throw LinkMessageError("a record must be an object") }
        let id = try string(fields, "id", limit: 64)
        let signer = try string(fields, "signer", limit: 64)
        guard let key = Hex.decode(try string(fields, "key", limit: 64)), key.count == 32 else {
            throw LinkMessageError("record \(quoted(id)) has no 32-byte hex key")
        }
        guard let signature = Hex.decode(try string(fields, "signature", limit: 128)), !signature.isEmpty else {
            throw LinkMessageError("record \(quoted(id)) is not signed")
        }
        let address: NodeAddress
        do { address = try NodeAddress(parsing: try string(fields, "address", limit: NodeAddress.maxLength)) } catch let error as AddressError {
            throw LinkMessageError("record \(quoted(id)): \(error)")
        }
        guard let state = MemberState(rawValue: try string(fields, "state", limit: 16)) else {
            throw LinkMessageError("record \(quoted(id)) has an unknown state")
        }
        var evidence: SuspicionEvidence?
        if fields["evidence"] != nil {
            guard let known = SuspicionEvidence(rawValue: try string(fields, "evidence", limit: 16)) else {
                throw LinkMessageError("record \(quoted(id)) has unknown evidence")
            }
            evidence = known
        }
        return MemberRecord(
            id: id, key: key, address: address, incarnation: try number(fields, "incarnation"), state: state,
            evidence: evidence, signer: signer, signature: signature)
    }

    static func digest(_ value: JSONValue) throws -> MemberDigest {
        guard case .array(let parts) = value, parts.count == 3, let id = text(parts[0], limit: 64), let incarnation = whole(parts[1]),
            let name = text(parts[2], limit: 16), let state = MemberState(rawValue: name)
        else { throw LinkMessageError("a have entry must be [id, incarnation, state]") }
        return MemberDigest(id: id, incarnation: incarnation, state: state)
    }

    static func number(_ fields: [String: JSONValue], _ name: String) throws -> UInt64 {
        guard let value = whole(fields[name]) else { throw LinkMessageError("\"\(name)\" must be a whole number from 0 to 2^53") }
        return value
    }

    static func string(_ fields: [String: JSONValue], _ name: String, limit: Int) throws -> String {
        guard let value = text(fields[name], limit: limit) else {
            throw LinkMessageError("\"\(name)\" must be a string of 1 to \(limit) bytes")
        }
        return value
    }

    /// A whole JSON number from 0 to 2^53, or nil.
    static func whole(_ value: JSONValue?) -> UInt64? {
        guard case .number(let number)? = value, number >= 0, number <= Double(maxNumber) else { return nil }
        return UInt64(exactly: number)
    }

    /// A JSON string of 1 to `limit` bytes, or nil.
    static func text(_ value: JSONValue?, limit: Int) -> String? {
        guard case .string(let string)? = value, !string.isEmpty, string.utf8.count <= limit else { return nil }
        return string
    }
}

/// Why a link message was dropped.
public struct LinkMessageError: Error, Equatable, Sendable, CustomStringConvertible {
    public var description: String
    init(_ description: String) { self.description = description }
}
