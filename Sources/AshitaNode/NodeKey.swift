import AshitaCore
import Crypto

/// The node's Ed25519 key pair. Its id is derived from the public key, so the id cannot be claimed without the
/// key file: base32 of the first 20 bytes of SHA-256(public key), 32 characters.
public struct NodeKey: Sendable {
    /// The key's raw 32 bytes (swift-crypto's key type is not `Sendable`, so it is made when needed).
    let rawRepresentation: [UInt8]
    public let publicKey: [UInt8]

    static func generate() -> NodeKey { NodeKey(Curve25519.Signing.PrivateKey()) }

    private init(_ key: Curve25519.Signing.PrivateKey) {
        self.rawRepresentation = Array(key.rawRepresentation)
        self.publicKey = Array(key.publicKey.rawRepresentation)
    }

    init?(rawHex: String) {
        guard let bytes = Self.bytes(hex: rawHex),
            let key = try? Curve25519.Signing.PrivateKey(rawRepresentation: bytes)
        else { return nil }
        self.init(key)
    }

    private var privateKey: Curve25519.Signing.PrivateKey {
        // Validated when the value was made.
        try! Curve25519.Signing.PrivateKey(rawRepresentation: rawRepresentation)
    }

    public var id: String { Self.id(ofPublicKey: publicKey) }

    public static func id(ofPublicKey key: [UInt8]) -> String {
        Base32.encode(SHA256.hash(data: key).prefix(20))
    }

    public func signature(for message: [UInt8]) -> [UInt8] {
        // Signing with a valid key only fails if the system's randomness fails.
        Array(try! privateKey.signature(for: message))
    }

    public static func isValidSignature(_ signature: [UInt8], of message: [UInt8], publicKey: [UInt8]) -> Bool {
        guard let key = try? Curve25519.Signing.PublicKey(rawRepresentation: publicKey) else { return false }
        return key.isValidSignature(signature, for: message)
    }

    static func bytes(hex: String) -> [UInt8]? {
        let digits = Array(hex.utf8)
        guard digits.count % 2 == 0 else { return nil }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(digits.count / 2)
        for i in stride(from: 0, to: digits.count, by: 2) {
            guard let high = nibble(digits[i]), let low = nibble(digits[i + 1]) else { return nil }
            bytes.append(high << 4 | low)
        }
        return bytes
    }

    private static func nibble(_ c: UInt8) -> UInt8? {
        switch c {
        case 0x30...0x39: c - 0x30
        case 0x61...0x66: c - 0x61 + 10
        default: nil
        }
    }
}
