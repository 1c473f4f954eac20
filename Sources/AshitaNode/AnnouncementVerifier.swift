import AshitaClient
import AshitaCore

#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// Asks an announced address whether an ashita node answers there: `GET /api/v1/node?challenge=NONCE` over
/// HTTP, then HTTPS, with a short timeout and a small answer cap. The answer must carry a public key, the id
/// derived from it, and a signature of the nonce by that key: so the id is proven, not merely claimed. It learns
/// whether the node speaks TLS. Certificates are not checked: the signature is the proof.
struct NodeProbe: Sendable {
    var timeoutSeconds = 2.0
    var maxAnswerBytes = 16 * 1024

    func check(_ address: NodeAddress) async -> Result<PeerFacts, ProbeFailure> {
        var client = CurlHTTPClient(timeoutSeconds: timeoutSeconds, maxResponseBytes: maxAnswerBytes)
        client.verifyCertificates = false
        var rng = SystemRandomNumberGenerator()
        let challenge = Hex.encode((0..<16).map { _ in UInt8.random(in: .min ... .max, using: &rng) })
        let path = "/api/v1/node?challenge=\(challenge)"
        let plain = await ask(client, "http://\(address)\(path)", challenge: challenge, tls: false)
        guard case .failure(let failure) = plain, failure.mayBeTLS else { return plain }
        // A TLS-only node drops a plain request without an answer; ask again over TLS.
        if case .success(let facts) = await ask(client, "https://\(address)\(path)", challenge: challenge, tls: true) {
            return .success(facts)
        }
        return plain
    }

    private func ask(_ client: CurlHTTPClient, _ url: String, challenge: String, tls: Bool) async
        -> Result<PeerFacts, ProbeFailure>
    {
        let response: HTTPResponse
        do {
            response = try await client.get(url, headers: ["Accept: application/json"])
        } catch {
            switch error {
            case .unreachable(_, let reason, let code):
                // 52: nothing came back; 56: the connection was reset — what a TLS server does to plain HTTP.
                return .failure(ProbeFailure(reason: reason, mayBeTLS: code == 52 || code == 56))
            case .tooLarge: return .failure(ProbeFailure(reason: "answer over \(maxAnswerBytes) bytes"))
            case .transfer(_, let reason, _), .tls(_, let reason): return .failure(ProbeFailure(reason: reason, mayBeTLS: true))
            case .stopped: return .failure(ProbeFailure(reason: "stopped"))
            }
        }
        guard response.status == 200 else {
            return .failure(ProbeFailure(reason: "GET /api/v1/node answered \(response.status)"))
        }
        guard let status = try? JSONDecoder().decode(NodeStatus.self, from: Data(response.body)), !status.id.isEmpty else {
            return .failure(ProbeFailure(reason: "what answers is not an ashita node"))
        }
        guard let hex = status.publicKey, let key = Hex.decode(hex), NodeKey.id(ofPublicKey: key) == status.id
        else {
            return .failure(ProbeFailure(reason: "its id does not match its public key"))
        }
        guard status.challenge == challenge, let signature = status.signature.flatMap(Hex.decode),
            NodeKey.isValidSignature(signature, of: NodeKey.challengeMessage(challenge), publicKey: key)
        else {
            return .failure(ProbeFailure(reason: "it did not prove its id (bad challenge signature)"))
        }
        return .success(PeerFacts(id: status.id, tls: tls))
    }
}

struct ProbeFailure: Error, Equatable, Sendable {
    var reason: String
    var mayBeTLS = false
}

/// The hub's side of verification: a cache of results, at most `maxInFlight` checks at once, a bounded queue,
/// one check per address however many announce it. Plain state driven by the hub (an actor).
struct VerificationQueue {
    struct Limits {
        var maxInFlight = 4
        var maxQueued = 1024
        var successSeconds = 300.0
        var failureSeconds = 10.0
    }

    let limits: Limits
    private var cache: [NodeAddress: (result: Result<PeerFacts, ProbeFailure>, expires: Double)] = [:]
    private var queued: [NodeAddress] = []
    private var queuedSet: Set<NodeAddress> = []
    private var running: Set<NodeAddress> = []

    init(limits: Limits) { self.limits = limits }

    enum Admission {
        /// Known: the cached result.
        case cached(Result<PeerFacts, ProbeFailure>)
        /// A check is queued or running; its result will come.
        case waiting
        /// Too many checks waiting already.
        case refused
    }

    mutating func admit(_ address: NodeAddress, now: Double) -> Admission {
        if let entry = cache[address] {
            if entry.expires > now { return .cached(entry.result) }
            cache[address] = nil
        }
        if running.contains(address) || queuedSet.contains(address) { return .waiting }
        guard queued.count < limits.maxQueued else { return .refused }
        queued.append(address)
        queuedSet.insert(address)
        return .waiting
    }

    /// The addresses to start checking now.
    mutating func startable() -> [NodeAddress] {
        var starting: [NodeAddress] = []
        while running.count < limits.maxInFlight, !queued.isEmpty {
            let next = queued.removeFirst()
            queuedSet.remove(next)
            running.insert(next)
            starting.append(next)
        }
        return starting
    }

    mutating func finished(_ address: NodeAddress, _ result: Result<PeerFacts, ProbeFailure>, now: Double) {
        running.remove(address)
        let ttl = if case .success = result { limits.successSeconds } else { limits.failureSeconds }
        cache[address] = (result, now + ttl)
        // Expired entries go when the cache grows, so it stays bounded by what was checked recently.
        if cache.count > 4 * limits.maxQueued { cache = cache.filter { $0.value.expires > now } }
    }
}
