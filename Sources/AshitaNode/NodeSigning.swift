import AshitaCore

/// The node's key as the membership's rules sign and check records with it: Ed25519 through swift-crypto.
struct NodeSigning: MemberSigning {
    let key: NodeKey

    var publicKey: [UInt8] { key.publicKey }

    func sign(_ bytes: [UInt8]) -> [UInt8] { key.signature(for: bytes) }

    func isValid(_ signature: [UInt8], of bytes: [UInt8], key: [UInt8]) -> Bool {
        NodeKey.isValidSignature(signature, of: bytes, publicKey: key)
    }

    func id(ofKey key: [UInt8]) -> String { NodeKey.id(ofPublicKey: key) }
}
