/// Which addresses a node may contact to check an announcement. Strangers choose the addresses, so by default a
/// node reaches only what any stranger could reach anyway: the internet, and the kind of network the node itself
/// is on (loopback for a node on loopback, a private range for a node on a private network). Link-local,
/// unspecified, multicast, reserved and cloud metadata addresses are never contacted.
public struct AnnouncementPolicy: Sendable, Equatable {
    /// Scopes besides `.global` that may be contacted.
    public var allowedScopes: Set<IPAddress.Scope>
    /// Networks the operator allows on top (`serve --allow-checks-to CIDR`).
    public var allowedNetworks: [IPNetwork]

    public init(allowedScopes: Set<IPAddress.Scope> = [], allowedNetworks: [IPNetwork] = []) {
        self.allowedScopes = allowedScopes
        self.allowedNetworks = allowedNetworks
    }

    /// Scopes that no flag opens: contacting them serves no mesh and can only serve an attacker.
    public static let neverContacted: Set<IPAddress.Scope> = [.unspecified, .metadata, .multicast]

    /// The policy for a node reached at `own` addresses: their loopback or private scopes are allowed.
    public static func forNode(at own: [IPAddress], allowing networks: [IPNetwork] = []) -> AnnouncementPolicy {
        let local = Set(own.map(\.scope)).intersection([.loopback, .private])
        return AnnouncementPolicy(allowedScopes: local, allowedNetworks: networks)
    }

    /// nil when `ip` may be contacted; otherwise why not, for the operator.
    public func refusal(_ ip: IPAddress) -> String? {
        let scope = ip.scope
        let kind = "\(scope == .unspecified ? "an" : "a") \(scope.rawValue) address"
        if Self.neverContacted.contains(scope) { return "\(ip) is \(kind)" }
        if scope == .global || allowedScopes.contains(scope) { return nil }
        if allowedNetworks.contains(where: { $0.contains(ip) }) { return nil }
        return "\(ip) is \(kind), which this node does not contact (serve --allow-checks-to)"
    }
}
