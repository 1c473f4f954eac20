import AshitaCore

/// The simulator's and the fuzzer's stand-in for Ed25519: a key is 32 seeded bytes and a signature a 64-bit keyed hash, so a
/// thousand nodes sign and check quickly. It catches what the rules must catch — a record signed for other bytes,
/// by another key, or not at all — but anyone holding a public key could forge it: the node signs with Ed25519.
public struct SimulatedSigning: MemberSigning {
    public let publicKey: [UInt8]

    public init(seed: UInt64) {
        var random = SeededRandom(seed: seed)
        publicKey = (0..<4).flatMap { _ in withUnsafeBytes(of: random.next()) { Array($0) } }
    }

    public func sign(_ bytes: [UInt8]) -> [UInt8] { Self.hash(publicKey, bytes) }

    public func isValid(_ signature: [UInt8], of bytes: [UInt8], key: [UInt8]) -> Bool { signature == Self.hash(key, bytes) }

    public func id(ofKey key: [UInt8]) -> String { Base32.encode(key.prefix(20)) }

    static func hash(_ key: [UInt8], _ bytes: [UInt8]) -> [UInt8] {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        key.withUnsafeBufferPointer { buffer in
            for index in 0..<buffer.count { h = (h ^ UInt64(buffer[index])) &* 0x100_0000_01b3 }
        }
        bytes.withUnsafeBufferPointer { buffer in
            for index in 0..<buffer.count { h = (h ^ UInt64(buffer[index])) &* 0x100_0000_01b3 }
        }
        return withUnsafeBytes(of: h.bigEndian) { Array($0) }
    }
}
