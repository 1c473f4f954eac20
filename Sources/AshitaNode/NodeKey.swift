import AshitaCore
import CLibCrypto

/// The node's Ed25519 key pair (through OpenSSL's libcrypto). Its id is derived from the public key, so the
/// id cannot be claimed without the key file: base32 of the first 20 bytes of SHA-256(public key), 32
/// characters. The node proves it holds the key by signing challenges (`GET /api/v1/node?challenge=`).
public struct NodeKey: Sendable {
    /// The 32-byte private key (the Ed25519 seed).
    let rawRepresentation: [UInt8]
    public let publicKey: [UInt8]

    static func generate() -> NodeKey {
        var rng = SystemRandomNumberGenerator()
        // Any 32 bytes are a valid Ed25519 private key.
        return NodeKey(raw: (0..<32).map { _ in UInt8.random(in: .min ... .max, using: &rng) })!
    }

    init?(rawHex: String) {
        guard let bytes = Hex.decode(rawHex) else { return nil }
        self.init(raw: bytes)
    }

    private init?(raw: [UInt8]) {
        guard raw.count == 32, let key = Self.privateKey(raw) else { return nil }
        defer { EVP_PKEY_free(key) }
        var length = 32
        var publicKey = [UInt8](repeating: 0, count: 32)
        guard EVP_PKEY_get_raw_public_key(key, &publicKey, &length) == 1, length == 32 else { return nil }
        self.rawRepresentation = raw
        self.publicKey = publicKey
    }

    public var id: String { Self.id(ofPublicKey: publicKey) }

    public static func id(ofPublicKey key: [UInt8]) -> String {
        Base32.encode(sha256(key).prefix(20))
    }

    public static func sha256(_ bytes: [UInt8]) -> [UInt8] {
        var digest = [UInt8](repeating: 0, count: Int(SHA256_DIGEST_LENGTH))
        _ = SHA256(bytes, bytes.count, &digest)
        return digest
    }

    /// What a node signs to answer a challenge: a fixed prefix, so the signature means nothing elsewhere.
    public static func challengeMessage(_ challenge: String) -> [UInt8] {
        Array("ashita-node-challenge:\(challenge)".utf8)
    }

    public func signature(for message: [UInt8]) -> [UInt8] {
        // The key was checked when the value was made; signing with it only fails if libcrypto cannot allocate.
        let key = Self.privateKey(rawRepresentation)!
        defer { EVP_PKEY_free(key) }
        let context = EVP_MD_CTX_new()
        defer { EVP_MD_CTX_free(context) }
        var signature = [UInt8](repeating: 0, count: 64)
        var length = 64
        guard EVP_DigestSignInit(context, nil, nil, nil, key) == 1,
            EVP_DigestSign(context, &signature, &length, message, message.count) == 1
        else { return [] }
        return Array(signature.prefix(length))
    }

    public static func isValidSignature(_ signature: [UInt8], of message: [UInt8], publicKey: [UInt8]) -> Bool {
        guard signature.count == 64, publicKey.count == 32,
            let key = EVP_PKEY_new_raw_public_key(NID_ED25519, nil, publicKey, 32)
        else { return false }
        defer { EVP_PKEY_free(key) }
        let context = EVP_MD_CTX_new()
        defer { EVP_MD_CTX_free(context) }
        return EVP_DigestVerifyInit(context, nil, nil, nil, key) == 1
            && EVP_DigestVerify(context, signature, signature.count, message, message.count) == 1
    }

    private static func privateKey(_ raw: [UInt8]) -> OpaquePointer? {
        EVP_PKEY_new_raw_private_key(NID_ED25519, nil, raw, raw.count)
    }
}
