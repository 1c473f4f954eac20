/// A node as the CLI is told of it: `host:port`, or `http://host:port` / `https://host:port` (`ws://`, `wss://`
/// too). `tls` picks HTTPS and WSS.
public struct NodeEndpoint: Hashable, Sendable, CustomStringConvertible {
    public var address: NodeAddress
    public var tls: Bool

    public init(_ address: NodeAddress, tls: Bool) {
        self.address = address
        self.tls = tls
    }

    public init(parsing text: String) throws(AddressError) {
        var rest = Substring(text)
        var tls = false
        for (prefix, secure) in [("https://", true), ("wss://", true), ("http://", false), ("ws://", false)]
        where rest.lowercased().hasPrefix(prefix) {
            rest = rest.dropFirst(prefix.count)
            tls = secure
            break
        }
        if rest.hasSuffix("/") { rest = rest.dropLast() }
        self.address = try NodeAddress(parsing: String(rest))
        self.tls = tls
    }

    public var httpBase: String { "\(tls ? "https" : "http")://\(address)" }
    public var webSocketBase: String { "\(tls ? "wss" : "ws")://\(address)" }

    /// `host:port` for plain nodes (as before), the URL for TLS ones.
    public var description: String { tls ? httpBase : address.description }
}
