import Foundation
import LoopbackSockets

/// The little of MessagePack that Serf's RPC needs: maps of strings to strings, numbers, booleans, lists of
/// strings to write; whatever Serf sends to read.
enum MessagePack {
    indirect enum Value: Equatable {
        case none, bool(Bool), int(Int64), double(Double), string(String), bytes([UInt8]), array([Value]), map([String: Value])

        subscript(key: String) -> Value? { if case .map(let fields) = self { fields[key] } else { nil } }
        var string: String? { if case .string(let s) = self { s } else { nil } }
        var array: [Value]? { if case .array(let a) = self { a } else { nil } }
    }

    static func encode(_ fields: [(String, Value)]) -> [UInt8] {
        var out: [UInt8] = []
        write(.map(Dictionary(uniqueKeysWithValues: fields)), into: &out)
        return out
    }

    static func write(_ value: Value, into out: inout [UInt8]) {
        switch value {
        case .none: out.append(0xC0)
        case .bool(let b): out.append(b ? 0xC3 : 0xC2)
        case .int(let i):
            if (0..<128).contains(i) { out.append(UInt8(i)) } else {
                out.append(0xD3)
                out += withUnsafeBytes(of: i.bigEndian) { Array($0) }
            }
        case .double(let d):
            out.append(0xCB)
            out += withUnsafeBytes(of: d.bitPattern.bigEndian) { Array($0) }
        case .string(let s):
            let bytes = Array(s.utf8)
            if bytes.count < 32 { out.append(0xA0 | UInt8(bytes.count)) } else {
                out.append(0xDA)
                out += withUnsafeBytes(of: UInt16(bytes.count).bigEndian) { Array($0) }
            }
            out += bytes
        case .bytes(let b):
            out.append(0xC5)
            out += withUnsafeBytes(of: UInt16(b.count).bigEndian) { Array($0) }
            out += b
        case .array(let items):
            out.append(0xDC)
            out += withUnsafeBytes(of: UInt16(items.count).bigEndian) { Array($0) }
            for item in items { write(item, into: &out) }
        case .map(let fields):
            out.append(0xDE)
            out += withUnsafeBytes(of: UInt16(fields.count).bigEndian) { Array($0) }
            for (key, item) in fields.sorted(by: { $0.key < $1.key }) {
                write(.string(key), into: &out)
                write(item, into: &out)
            }
        }
    }

    struct Incomplete: Error {}
    struct Unsupported: Error { let byte: UInt8 }

    /// One value from the front of `bytes`, and how many bytes it took; `Incomplete` when more must arrive.
    static func read(_ bytes: [UInt8], at start: Int = 0) throws -> (Value, Int) {
        var index = start
        func take(_ n: Int) throws -> ArraySlice<UInt8> {
            guard index + n <= bytes.count else { throw Incomplete() }
            defer { index += n }
            return bytes[index..<index + n]
        }
        func uint(_ n: Int) throws -> UInt64 { try take(n).reduce(0) { $0 << 8 | UInt64($1) } }
        func value() throws -> Value {
            let byte = try take(1).first!
            switch byte {
            case 0x00...0x7F: return .int(Int64(byte))
            case 0xE0...0xFF: return .int(Int64(Int8(bitPattern: byte)))
            case 0x80...0x8F: return try map(Int(byte & 0x0F))
            case 0x90...0x9F: return try array(Int(byte & 0x0F))
            case 0xA0...0xBF: return .string(String(decoding: try take(Int(byte & 0x1F)), as: UTF8.self))
            case 0xC0: return .none
            case 0xC2: return .bool(false)
            case 0xC3: return .bool(true)
            case 0xC4, 0xC5, 0xC6: return .bytes(Array(try take(Int(try uint(1 << Int(byte - 0xC4))))))
            case 0xCA: return .double(Double(Float(bitPattern: UInt32(try uint(4)))))
            case 0xCB: return .double(Double(bitPattern: try uint(8)))
            case 0xCC, 0xCD, 0xCE, 0xCF: return .int(Int64(truncatingIfNeeded: try uint(1 << Int(byte - 0xCC))))
            case 0xD0: return .int(Int64(Int8(truncatingIfNeeded: try uint(1))))
            case 0xD1: return .int(Int64(Int16(truncatingIfNeeded: try uint(2))))
            case 0xD2: return .int(Int64(Int32(truncatingIfNeeded: try uint(4))))
            case 0xD3: return .int(Int64(bitPattern: try uint(8)))
            case 0xD9, 0xDA, 0xDB: return .string(String(decoding: try take(Int(try uint(1 << Int(byte - 0xD9)))), as: UTF8.self))
            case 0xDC: return try array(Int(try uint(2)))
            case 0xDD: return try array(Int(try uint(4)))
            case 0xDE: return try map(Int(try uint(2)))
            case 0xDF: return try map(Int(try uint(4)))
            default: throw Unsupported(byte: byte)
            }
        }
        func array(_ count: Int) throws -> Value { .array(try (0..<count).map { _ in try value() }) }
        func map(_ count: Int) throws -> Value {
            var fields: [String: Value] = [:]
            for _ in 0..<count {
                let key = try value()
                fields[key.string ?? "\(key)"] = try value()
            }
            return .map(fields)
        }
        let result = try value()
        return (result, index - start)
    }
}

/// A connection to one Serf agent's RPC port that streams its member events: `member-join`, `member-failed`,
/// `member-leave`, each with the members it is about. Read on a thread of its own until the agent goes.
final class SerfEventStream: @unchecked Sendable {
    // @unchecked: `fd` is set once; the reading thread alone touches the buffer.
    private let fd: Int32

    init(rpcPort: Int) throws {
        guard let fd = LoopbackSocket.connect(port: rpcPort) else { throw BenchError("serf RPC on \(rpcPort) refused") }
        self.fd = fd
        try send([("Command", .string("handshake")), ("Seq", .int(0))], body: [("Version", .int(1))])
        try send(
            [("Command", .string("stream")), ("Seq", .int(1))],
            body: [("Type", .string("member-join,member-failed,member-leave"))])
    }

    private func send(_ header: [(String, MessagePack.Value)], body: [(String, MessagePack.Value)]) throws {
        let bytes = MessagePack.encode(header) + MessagePack.encode(body)
        guard bytes.withUnsafeBytes({ Foundation.write(fd, $0.baseAddress, $0.count) }) == bytes.count else {
            throw BenchError("could not write to serf RPC")
        }
    }

    /// Calls `event(type, memberNames)` for each event until the connection ends.
    func run(_ event: @escaping @Sendable (String, [String]) -> Void) {
        let fd = self.fd
        Thread.detachNewThread {
            var buffer: [UInt8] = []
            var acknowledged: Set<Int64> = []
            var chunk = [UInt8](repeating: 0, count: 65536)
            while true {
                let n = chunk.withUnsafeMutableBytes { Foundation.read(fd, $0.baseAddress, $0.count) }
                if n <= 0 { break }
                buffer += chunk[0..<n]
                while true {
                    // A header, and for an event (a second answer to the stream's Seq) its body.
                    guard let (header, headerSize) = try? MessagePack.read(buffer) else { break }
                    guard case .int(let seq)? = header["Seq"] else {
                        buffer.removeFirst(headerSize)
                        continue
                    }
                    if !acknowledged.contains(seq) {
                        acknowledged.insert(seq)
                        buffer.removeFirst(headerSize)
                        continue
                    }
                    guard let (body, bodySize) = try? MessagePack.read(buffer, at: headerSize) else { break }
                    buffer.removeFirst(headerSize + bodySize)
                    let names = (body["Members"]?.array ?? []).compactMap { $0["Name"]?.string }
                    if let type = body["Event"]?.string { event(type, names) }
                }
            }
            close(fd)
        }
    }
}
