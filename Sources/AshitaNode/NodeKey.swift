import AshitaCore
import Crypto

/// The node's Ed25519 key pair (through swift-crypto, so the node loads no system TLS library). Its id is derived
/// from the public key, so the id cannot be claimed without the key file: base32 of the first 20 bytes of
/// SHA-256(public key), 32 characters. The node proves it holds the key by signing challenges
/// (`GET /api/v1/node?challenge=`).
public struct NodeKey: Sendable {
    private let key: Curve25519.Signing.PrivateKey
    /// The 32-byte private key (the Ed25519 seed).
    var rawRepresentation: [UInt8] { Array(key.rawRepresentation) }
    public let publicKey: [UInt8]

    static func generate() -> NodeKey {
        NodeKey(key: Curve25519.Signing.PrivateKey())
    }

    init?(rawHex: String) {
        // Any 32 bytes are a valid Ed25519 private key.
        guard let bytes = Hex.decode(rawHex), bytes.count == 32,
            let key = try? Curve25519.Signing.PrivateKey(rawRepresentation: bytes)
        else { return nil }
        self.init(key: key)
    }

    private init(key: Curve25519.Signing.PrivateKey) {
        self.key = key
        self.publicKey = Array(key.publicKey.rawRepresentation)
    }

    public var id: String { Self.id(ofPublicKey: publicKey) }

    public static func id(ofPublicKey key: [UInt8]) -> String {
        Base32.encode(sha256(key).prefix(20))
    }

    public static func sha256(_ bytes: [UInt8]) -> [UInt8] {
        Array(SHA256.hash(data: bytes))
    }

    /// What a node signs to answer a challenge: a fixed prefix, so the signature means nothing elsewhere.
    public static func challengeMessage(_ challenge: String) -> [UInt8] {
        Array("ashita-node-challenge:\(challenge)".utf8)
    }

    public func signature(for message: [UInt8]) -> [UInt8] {
        // Ed25519 signing fails only if memory cannot be allocated; an empty signature then fails every check.
        (try? key.signature(for: message)).map(Array.init) ?? []
    }

    public static func isValidSignature(_ signature: [UInt8], of message: [UInt8], publicKey: [UInt8]) -> Bool {
        guard signature.count == 64, publicKey.count == 32,
            let key = try? Curve25519.Signing.PublicKey(rawRepresentation: publicKey)
        else { return false }
        return key.isValidSignature(signature, for: message)
    }
}
