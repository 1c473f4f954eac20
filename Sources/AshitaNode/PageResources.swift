import AshitaCore

/// The browser client, compiled into the binary: nothing is read from disk, so no path can escape it.
struct PageResources: Sendable {
    struct Resource: Sendable {
        var contentType: String
        var body: [UInt8]
    }

    private let resources: [String: Resource]

    /// The page's script may talk to its own node and open WebSockets to others; nothing loads from elsewhere.
    static let headers = [
        ("Content-Security-Policy", "default-src 'self'; connect-src 'self' ws: wss:; img-src 'self' data:; frame-ancestors 'none'"),
        ("X-Content-Type-Options", "nosniff"),
        ("Referrer-Policy", "no-referrer"),
    ]

    /// `advertised` fills the page's `ashita-node` meta tag, so the page names its home as others reach it.
    init(advertised: NodeAddress) {
        let html = String(decoding: PackageResources.index_html, as: UTF8.self)
            .replacingAll("{{NODE}}", with: advertised.description)
        resources = [
            "/": Resource(contentType: "text/html; charset=utf-8", body: Array(html.utf8)),
            "/index.html": Resource(contentType: "text/html; charset=utf-8", body: Array(html.utf8)),
            "/ashita.js": Resource(contentType: "text/javascript; charset=utf-8", body: PackageResources.ashita_js),
            "/ashita.css": Resource(contentType: "text/css; charset=utf-8", body: PackageResources.ashita_css),
            "/favicon.svg": Resource(contentType: "image/svg+xml", body: PackageResources.favicon_svg),
            "/favicon.ico": Resource(contentType: "image/svg+xml", body: PackageResources.favicon_svg),
        ]
    }

    func resource(at path: String) -> Resource? { resources[path] }
}

extension String {
    /// The address is validated (letters, digits, `.-:[]`), so it needs no HTML escaping.
    fileprivate func replacingAll(_ target: String, with replacement: String) -> String {
        var out = ""
        var rest = self[...]
        while let range = rest.firstRange(of: target) {
            out += rest[..<range.lowerBound]
            out += replacement
            rest = rest[range.upperBound...]
        }
        return out + rest
    }
}
