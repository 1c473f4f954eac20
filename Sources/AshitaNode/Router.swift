import AshitaCore
import NIOHTTP1

/// Maps a request to its reply. Only fixed paths exist: nothing here ever reads the file system.
struct Router {
    let hub: MeshHub
    let links: LinkHub
    let page: PageResources
    /// Signs challenges here, off the hub, which every WebSocket frame goes through.
    let key: NodeKey

    func reply(to head: HTTPRequestHead, remote: String) async -> HTTPReply {
        let (path, query) = Self.split(head.uri)
        switch (head.method, path) {
        case (.GET, "/healthz"):
            return .json(["status": "ok"])
        case (.GET, "/api/v1/node"):
            guard let challenge = query["challenge"] else { return .json(await hub.status()) }
            let allowed = challenge.utf8.allSatisfy {
                (0x30...0x39).contains($0) || (0x41...0x5A).contains($0) || (0x61...0x7A).contains($0) || $0 == 0x2D || $0 == 0x5F
            }
            guard (1...128).contains(challenge.utf8.count), allowed else {
                return .error(.badRequest, .badRequest, "challenge must be 1 to 128 letters, digits, - or _")
            }
            var status = await hub.status()
            status.challenge = challenge
            status.signature = Hex.encode(key.signature(for: NodeKey.challengeMessage(challenge)))
            return .json(status)
        case (.GET, "/api/v1/peers"):
            // `?all=1`: the operator's view, with homes that are pending or failed verification.
            if query["all"] == "1" {
                if let refusal = await authorize(head, remote: remote) { return refusal }
                return .json(await hub.peerList(all: true))
            }
            return .json(await hub.peerList())
        case (.GET, "/api/v1/events"):
            var types: Set<String>?
            if let list = query["types"], !list.isEmpty {
                types = Set(list.split(separator: ",").map(String.init))
                let unknown = types!.subtracting(JournalType.all)
                guard unknown.isEmpty else {
                    return .error(
                        .badRequest, .badRequest,
                        "unknown event type \(quoted(unknown.sorted()[0])); known: \(JournalType.all.joined(separator: ","))")
                }
            }
            return .eventStream(types: types, lastEventID: head.headers.first(name: "last-event-id"))
        case (.GET, "/api/v1/members"):
            return .json(await links.memberList())
        case (.POST, "/api/v1/join"):
            if let refusal = await authorize(head, remote: remote) { return refusal }
            guard let text = query["node"], let address = try? NodeAddress(parsing: text) else {
                return .error(.badRequest, .badRequest, "give the node to join as ?node=HOST:PORT")
            }
            await links.join([address])
            return .json(JoinResult(joining: address.description), status: .accepted)
        case (.POST, "/api/v1/auth"):
            return await authorize(head, remote: remote) ?? .noContent
        case (.GET, "/api/v1/clients"):
            if let refusal = await authorize(head, remote: remote) { return refusal }
            return .json(await hub.clientList())
        case (.POST, "/api/v1/kick"):
            if let refusal = await authorize(head, remote: remote) { return refusal }
            return await kick(query)
        case (.GET, "/api/v1/bans"):
            if let refusal = await authorize(head, remote: remote) { return refusal }
            return .json(await hub.banList())
        case (.POST, "/api/v1/unban"):
            if let refusal = await authorize(head, remote: remote) { return refusal }
            guard let (kind, target) = Self.banTarget(query) else {
                return .error(.badRequest, .badRequest, "give what to unban as ?home=HOST:PORT or ?address=IP (one of them)")
            }
            guard let removed = await hub.unban(kind, target) else { return await Self.banRefused(hub) }
            return .json(UnbanResult(kind: kind, target: target, removed: removed))
        case (.GET, _), (.HEAD, _):
            if let resource = page.resource(at: path) {
                return .full(status: .ok, contentType: resource.contentType, body: resource.body, headers: PageResources.headers)
            }
            if Self.knownPaths.contains(path) { return methodNotAllowed(head) }
            return .error(.notFound, .notFound, "no such path: \(quoted(path)); see /api/v1/node")
        default:
            if Self.knownPaths.contains(path) || page.resource(at: path) != nil { return methodNotAllowed(head) }
            return .error(.notFound, .notFound, "no such path: \(quoted(path)); see /api/v1/node")
        }
    }

    /// `?home=HOST:PORT` or `?client=ID`, and with `&ban=SECONDS` a ban: of the home, or of the client's remote
    /// address. A client id never bans a home: the home is whatever the client announced, perhaps a real node's.
    private func kick(_ query: [String: String]) async -> HTTPReply {
        var seconds: Int64?
        if let text = query["ban"] {
            guard let value = Int64(text), (1...BanList.maxSeconds).contains(value) else {
                return .error(.badRequest, .badRequest, "ban must be whole seconds from 1 to \(BanList.maxSeconds), got \(quoted(text))")
            }
            seconds = value
        }
        switch (query["client"], query["home"]) {
        case (let text?, nil):
            guard let id = ClientID(text) else {
                return .error(.badRequest, .badRequest, "client must be a client id (a number), got \(quoted(text))")
            }
            guard let targets = await hub.banTargets(of: id) else {
                return .error(.notFound, .notFound, "no client \(id) is connected; see /api/v1/clients")
            }
            guard let seconds else { return .json(KickResult(client: id, disconnected: await hub.kick(client: id) ? 1 : 0)) }
            guard let outcome = await hub.ban(.address, targets.address, seconds: seconds) else { return await Self.banRefused(hub) }
            return .json(KickResult(client: id, disconnected: outcome.disconnected, banned: [outcome.ban]))
        case (nil, let text?):
            guard let home = try? NodeAddress(parsing: text) else {
                return .error(.badRequest, .badNode, "home must be HOST:PORT, got \(quoted(text))")
            }
            guard let seconds else { return .json(KickResult(home: home.description, disconnected: await hub.kick(home))) }
            guard let outcome = await hub.ban(.home, home.description, seconds: seconds) else { return await Self.banRefused(hub) }
            return .json(KickResult(home: home.description, disconnected: outcome.disconnected, banned: [outcome.ban]))
        default:
            return .error(.badRequest, .badRequest, "give whom to disconnect as ?home=HOST:PORT or ?client=ID (one of them)")
        }
    }

    /// Why a ban was not made: the node is stopping (nothing would be saved), or the list is full.
    static func banRefused(_ hub: MeshHub) async -> HTTPReply {
        if await hub.isShuttingDown { return .error(.serviceUnavailable, .busy, "the node is shutting down; nothing is banned") }
        return .error(.conflict, .busy, "\(BanList.capacity) bans are in force; lift some (POST /api/v1/unban) first")
    }

    /// `?home=HOST:PORT` or `?address=IP` (exactly one), in the one spelling the ban list keeps.
    static func banTarget(_ query: [String: String]) -> (BanList.Kind, String)? {
        let given = BanList.Kind.allCases.compactMap { kind in query[kind.rawValue].map { (kind, $0) } }
        guard given.count == 1, let (kind, text) = given.first, let target = BanList.normalized(kind, text) else { return nil }
        return (kind, target)
    }

    static let knownPaths: Set<String> = [
        "/healthz", "/api/v1/node", "/api/v1/peers", "/api/v1/events", "/api/v1/auth", "/api/v1/clients", "/api/v1/kick", "/api/v1/bans", "/api/v1/unban",
        "/api/v1/members", "/api/v1/link", "/api/v1/join",
    ]


    private func methodNotAllowed(_ head: HTTPRequestHead) -> HTTPReply {
        .error(.methodNotAllowed, .methodNotAllowed, "\(head.method.rawValue) is not allowed on \(quoted(Self.split(head.uri).path))")
    }

    /// nil when the request carries the operator token; otherwise the refusal to send.
    private func authorize(_ head: HTTPRequestHead, remote: String) async -> HTTPReply? {
        let challenge = [("WWW-Authenticate", "Bearer realm=\"ashita\"")]
        guard let header = head.headers.first(name: "authorization"), header.lowercased().hasPrefix("bearer ") else {
            return .error(.unauthorized, .unauthorized, "send the operator token as 'Authorization: Bearer TOKEN'", headers: challenge)
        }
        let token = String(header.dropFirst("bearer ".count)).trimmingSpaces()
        switch await hub.checkOperatorToken(token, from: remote) {
        case .accepted:
            return nil
        case .rejected:
            return .error(.unauthorized, .unauthorized, "operator token rejected", headers: challenge)
        case .rateLimited:
            return .error(
                .tooManyRequests, .rateLimited, "too many failed attempts from \(remote); wait a minute",
                headers: [("Retry-After", "60")])
        }
    }

    /// Path and decoded query parameters (first value wins).
    static func split(_ uri: String) -> (path: String, query: [String: String]) {
        guard let mark = uri.firstIndex(of: "?") else { return (uri, [:]) }
        var query: [String: String] = [:]
        for pair in uri[uri.index(after: mark)...].split(separator: "&") {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            let key = percentDecoded(parts[0])
            if query[key] == nil { query[key] = parts.count > 1 ? percentDecoded(parts[1]) : "" }
        }
        return (String(uri[..<mark]), query)
    }

    private static func percentDecoded(_ s: Substring) -> String {
        var bytes: [UInt8] = []
        var i = s.utf8.startIndex
        let utf8 = s.utf8
        while i < utf8.endIndex {
            let c = utf8[i]
            if c == UInt8(ascii: "%"), let hi = utf8.index(i, offsetBy: 1, limitedBy: utf8.endIndex),
                let lo = utf8.index(i, offsetBy: 2, limitedBy: utf8.endIndex), lo < utf8.endIndex,
                let value = UInt8(String(decoding: [utf8[hi], utf8[lo]], as: UTF8.self), radix: 16)
            {
                bytes.append(value)
                i = utf8.index(after: lo)
            } else {
                bytes.append(c == UInt8(ascii: "+") ? 0x20 : c)
                i = utf8.index(after: i)
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}

extension String {
    func trimmingSpaces() -> String {
        String(drop(while: { $0 == " " }).reversed().drop(while: { $0 == " " }).reversed())
    }
}
