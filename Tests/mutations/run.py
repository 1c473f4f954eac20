#!/usr/bin/env python3
"""Disables each defence of .github/SECURITY.md in turn with a one-line change, runs the whole suite, and
records which tests failed and how long the run took: the proof that the tests would notice.

    python3 Tests/mutations/run.py [NAME...]      (from the repository's root; takes about two hours)

Each mutation is one substring of one file replaced; the file is restored afterwards, whatever happens.
Writes Tests/mutations/results.md (not committed: it is the closing note's table).
"""
import os, re, subprocess, sys, time

MUTATIONS = [
    # (mechanism, file, original, replacement)
    ("announcements relayed only once verified", "Sources/AshitaCore/MeshPeers.swift",
     "guard configuration.verifyAnnouncements else {", "guard false else {"),
    ("one spelling per address", "Sources/AshitaCore/NodeAddress.swift",
     "let v4 = ip.isIPv4 || (ip.embeddedIPv4 != nil && ip.bytes[10] == 0xFF)", "let v4 = ip.isIPv4"),
    ("numeric shorthands refused", "Sources/AshitaCore/NodeAddress.swift",
     "guard wellFormed, let last = labels.last?.lowercased(), !looksNumeric(last) else { return nil }",
     "guard wellFormed, let last = labels.last?.lowercased(), !last.isEmpty else { return nil }"),
    ("results cached by what is contacted", "Sources/AshitaCore/AnnouncementChecks.swift",
     "            if let cached = byDestination[destination], cached.expires > now {\n                plan.reports",
     "            if false, let cached = byDestination[destination], cached.expires > now {\n                plan.reports"),
    ("one contact at a time per destination", "Sources/AshitaCore/AnnouncementChecks.swift",
     "guard contacting[destination] == nil, contacting.count < limits.maxInFlight else { continue }",
     "guard contacting.count < limits.maxInFlight else { continue }"),
    ("never-contacted scopes", "Sources/AshitaCore/AnnouncementPolicy.swift",
     'if Self.neverContacted.contains(scope) { return "\\(ip) is \\(kind)" }', "_ = kind"),
    ("private and loopback only when the node is on them", "Sources/AshitaCore/AnnouncementPolicy.swift",
     "if scope == .global || allowedScopes.contains(scope) { return nil }", "if scope != .linkLocal && scope != .reserved { return nil }"),
    ("contact rates (in all and per host)", "Sources/AshitaCore/AnnouncementChecks.swift",
     "            let ready = [contacts.nextToken(at: now), host.nextToken(at: now)].max()!\n            guard ready <= now else {",
     "            let ready = [contacts.nextToken(at: now), host.nextToken(at: now)].max()!\n            guard ready <= now || true else {"),
    ("announcers served in turn", "Sources/AshitaCore/AnnouncementChecks.swift",
     "                announcers.remove(at: position)\n                announcers.append(announcer)",
     "                _ = position"),
    ("announcers learn nothing of what was found", "Sources/AshitaCore/MeshPeers.swift",
     '.unverified, "\\(home) could not be verified as an ashita node; other clients are not told of it")',
     '.unverified, "\\(home) could not be verified as an ashita node (\\(reason))")'),
    ("the node knows itself behind any name", "Sources/AshitaCore/MeshPeers.swift",
     "if let id = facts.id, id == configuration.identity.id {", "if false, let id = facts.id, id == configuration.identity.id {"),
    ("one socket per node id (eclipse)", "Sources/AshitaCore/FollowPolicy.swift",
     "if let id, let other = ids[id] { return .sameNode(as: other) }", "_ = ids"),
    ("few sockets on one node's word", "Sources/AshitaCore/FollowPolicy.swift",
     "guard openedOnWordOf[announcer, default: 0] < perAnnouncer else { return .announcerLimit }", ""),
    ("duplicate JSON keys refused", "Sources/AshitaCore/StrictJSON.swift",
     "guard fields.updateValue(value, forKey: key) == nil else {", "guard fields.updateValue(value, forKey: key) == nil || true else {"),
    ("JSON nesting bounded", "Sources/AshitaCore/StrictJSON.swift",
     "func object(depth: Int) throws(SyntaxError) -> JSONValue {\n            guard depth <= StrictJSON.maxDepth else",
     "func object(depth: Int) throws(SyntaxError) -> JSONValue {\n            guard true else"),
    ("unmasked client frames close 1002", "Sources/AshitaNode/WebSocketRequests.swift",
     "if frame.maskKey == nil {", "if false {"),
    ("RSV bits close 1002", "Sources/AshitaNode/WebSocketRequests.swift",
     "} else if frame.rsv1 || frame.rsv2 || frame.rsv3 {", "} else if false {"),
    ("reserved opcodes close 1002", "Sources/AshitaNode/WebSocketRequests.swift",
     "} else if !Self.known.contains(frame.opcode) {", "} else if false {"),
    ("close codes checked", "Sources/AshitaNode/WebSocketRequests.swift",
     "case 1000...1003, 1007...1014, 3000...4999: true", "case 0...65535: true"),
    ("malformed upgrades refused", "Sources/AshitaNode/WebSocketRequests.swift",
     "guard asksForWebSocket(head) else { return nil }", "return nil"),
    ("control frames share the message rate", "Sources/AshitaNode/WebSocketSession.swift",
     "if outcome.accepted && !session.closing { session.outbound.pong(payload) }",
     "if !session.closing { session.outbound.pong(payload) }"),
    ("message rate", "Sources/AshitaCore/Mesh.swift",
     "guard clients[id]!.messages.take(at: now) else {", "guard clients[id]!.messages.take(at: now) || true else {"),
    ("client limit", "Sources/AshitaCore/Mesh.swift",
     "guard clients.count < configuration.maxClients else { return [.close(id, .full)] }", ""),
    ("connections per IP", "Sources/AshitaNode/ConnectionBudget.swift",
     "guard s.perIP[ip, default: 0] < limitPerIP else { return (.overIPLimit, nil) }", ""),
    ("connection budget displaces idle connections", "Sources/AshitaNode/ConnectionBudget.swift",
     "guard let victim = Self.oldestIdle(&s) else { return (.full, nil) }", "return (.full, nil)\n                let victim: UInt64 = 0"),
    ("frames waiting for the hub hold the socket's reads", "Sources/AshitaNode/WebSocketSession.swift",
     "        if closing || (node != nil && inFlight < Self.maxFramesInFlight) {\n            context.read()",
     "        if true {\n            context.read()"),
    ("banned addresses refused at connect", "Sources/AshitaCore/Mesh.swift",
     "guard !bans.isBanned(.address, IPAddress.limitKey(remote), at: now) else { return [.close(id, .banned)] }", ""),
    ("banned homes refused at auth", "Sources/AshitaCore/Mesh.swift",
     "if let home, bans.isBanned(.home, home.description, at: now) {", "if let home, false, bans.isBanned(.home, home.description, at: now) {"),
    ("bans bounded", "Sources/AshitaCore/BanList.swift",
     "guard until[key] != nil || until.count < Self.capacity else { return .full }", ""),
    ("auth timeout", "Sources/AshitaNode/WebSocketSession.swift",
     "            hub.enqueue { $0.authDeadlinePassed(id) }", "            _ = hub"),
    ("two missed pongs close the link", "Sources/AshitaNode/WebSocketOutbound.swift",
     "if unansweredPings >= 2 { return close(.noPong) }", ""),
    ("outbound bound for WebSocket readers", "Sources/AshitaNode/WebSocketOutbound.swift",
     "        guard channel.isWritable else {\n            close(.tooSlow)", "        guard channel.isWritable || true else {\n            close(.tooSlow)"),
    ("pongs count against the outbound bound", "Sources/AshitaNode/WebSocketOutbound.swift",
     "guard let context, mayWrite(context.channel) else { return }\n        context.channel.writeAndFlush(WebSocketFrame(fin: true, opcode: .pong",
     "guard let context else { return }\n        context.channel.writeAndFlush(WebSocketFrame(fin: true, opcode: .pong"),
    ("event-stream limit", "Sources/AshitaNode/EventStreams.swift",
     "guard subscribers.count < limits.maxEventStreams else { return .refused(.full) }", ""),
    ("a subscriber behind its buffer is ended", "Sources/AshitaNode/EventStreams.swift",
     "if case .dropped = subscriber.continuation.yield(encoded) {", "if case .dropped = subscriber.continuation.yield(encoded), false {"),
    ("header timeout (slowloris)", "Sources/AshitaNode/NodeServer.swift",
     "        let headTimer = channel.eventLoop.scheduleTask(in: TimeAmount(limits.headerTimeout)) {\n            channel.close(promise: nil)",
     "        let headTimer = channel.eventLoop.scheduleTask(in: TimeAmount(limits.headerTimeout)) {\n            _ = channel"),
    ("head bounded as bytes arrive", "Sources/AshitaNode/RequestHeadLimiter.swift",
     "                guard count <= limit else {\n", "                guard count <= limit || true else {\n"),
    ("header lines bounded", "Sources/AshitaNode/RequestHeadLimiter.swift",
     "                guard lines <= maxLines else {", "                guard lines <= maxLines || true else {"),
    ("a whole request bounded (trailers)", "Sources/AshitaNode/RequestHeadLimiter.swift",
     "guard requestCount <= requestLimit + Self.slack else {", "guard requestCount <= requestLimit + Self.slack || true else {"),
    ("closed after a request the parser takes for an upgrade", "Sources/AshitaNode/HTTPConnection.swift",
     "let keepAlive = head.isKeepAlive && !bodyConsumed && !Self.stopsTheParser(head)", "let keepAlive = head.isKeepAlive"),
    ("an upgrade only as a connection's first request", "Sources/AshitaNode/HTTPConnection.swift",
     "                        if WebSocketRequests.asksForWebSocket(head) {", "                        if false {"),
    ("event streams per address", "Sources/AshitaNode/EventStreams.swift",
     "guard subscribers.values.count(where: { $0.key == key }) < limits.maxEventStreamsPerIP else {",
     "guard subscribers.values.count(where: { $0.key == key }) < limits.maxEventStreamsPerIP || true else {"),
    ("IPv6 counted by /64", "Sources/AshitaCore/IPAddress.swift",
     "        guard !ip.isIPv4 else { return ip.description }", "        guard false else { return ip.description }"),
    ("home changes per connection", "Sources/AshitaCore/Mesh.swift",
     "guard clients[id]!.homeChanges < 2 * configuration.maxAnnouncementsPerClient else {",
     "guard clients[id]!.homeChanges < 2 * configuration.maxAnnouncementsPerClient || true else {"),
    ("known nodes rewritten only when changed", "Sources/AshitaNode/KnownNodes.swift",
     "            return (false, nil)\n        }\n        let previous = known?.id", "        }\n        let previous = known?.id"),
    ("names cost a contact", "Sources/AshitaCore/AnnouncementChecks.swift",
     "                let ready = contacts.nextToken(at: now)\n                guard ready <= now else {",
     "                let ready = contacts.nextToken(at: now)\n                guard ready <= now || true else {"),
    ("Last-Event-ID without overflow", "Sources/AshitaCore/EventJournal.swift",
     "let missed = (all.first.map { $0.sequence - 1 > seen }) ?? false", "let missed = (all.first.map { $0.sequence > seen + 1 }) ?? false"),
    ("remote addresses out of the public journal", "Sources/AshitaCore/Mesh.swift",
     "return [record(JournalType.clientConnected, JournalContent(client: id), now)]",
     "return [record(JournalType.clientConnected, JournalContent(client: id, remote: remote), now)]"),
    ("body deadline", "Sources/AshitaNode/HTTPConnection.swift",
     "return try await deadline(limits.bodyTimeout) {", "return try await deadline(.seconds(86_400)) {"),
    ("body size (413)", "Sources/AshitaNode/HTTPConnection.swift",
     "                if bodyBytes > maxBody {", "                if false {"),
    ("Expect: 100-continue answered", "Sources/AshitaNode/HTTPConnection.swift",
     "                try await outbound.write(.head(HTTPResponseHead(version: head.version, status: .continue)))",
     "                _ = outbound"),
    ("send deadline for HTTP answers", "Sources/AshitaNode/HTTPConnection.swift",
     "try await deadline(limits.sendTimeout) { try await outbound.write(contentsOf: parts) }",
     "try await outbound.write(contentsOf: parts)"),
    ("send deadline for event streams", "Sources/AshitaNode/HTTPConnection.swift",
     "let timer = underlying.eventLoop.scheduleTask(in: TimeAmount(sendTimeout)) { abortConnection(underlying) }",
     "let timer = underlying.eventLoop.scheduleTask(in: TimeAmount(.seconds(86_400))) { abortConnection(underlying) }"),
    ("small HTTP reads", "Sources/AshitaNode/NodeServer.swift",
     "    static let httpReadBytes = 4096", "    static let httpReadBytes = 1 << 20"),
    ("a malformed request is closed", "Sources/AshitaNode/RequestHeadLimiter.swift",
     "if error is HTTPParserError { context.close(promise: nil) }", ""),
    ("token guessing limited", "Sources/AshitaCore/MeshPeers.swift",
     "if authFailures.isBlocked(key, at: now) { return .rateLimited }", ""),
    ("close frame before the socket closes", "Sources/AshitaNode/WebSocketOutbound.swift",
     "            guard case .success = result else { return channel.close(promise: nil) }\n            channel.close(mode: .output, promise: nil)",
     "            _ = result\n            channel.close(promise: nil)"),
    ("known nodes bounded per id", "Sources/AshitaNode/KnownNodes.swift",
     "if sameID.count > Self.addressesPerID,", "if false, sameID.count > Self.addressesPerID,"),
    ("known nodes read as large as written", "Sources/AshitaNode/KnownNodes.swift",
     "    static let maxFileBytes = 1 << 20", "    static let maxFileBytes = 64 << 10"),
    ("a damaged known-nodes file is set aside", "Sources/AshitaNode/KnownNodes.swift",
     "        let aside = \"\\(file).damaged\"", "        throw FileError(file: file, problem: problem, remedy: \"\")\n        let aside = \"\\(file).damaged\""),
    ("data directory ownership and permissions", "Sources/AshitaSystem/SecureFiles.swift",
     "        let me = geteuid()\n", "        let me = geteuid()\n        if me >= 0 { return }\n"),
    ("no symbolic link for the lock", "Sources/AshitaSystem/SecureFiles.swift",
     "let fd = open(file, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK, 0o600)",
     "let fd = open(file, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)"),
    ("only regular files read, without blocking", "Sources/AshitaSystem/SecureFiles.swift",
     "let fd = open(file, O_RDONLY | O_CLOEXEC | O_NONBLOCK | noFollow)", "let fd = open(file, O_RDONLY | O_CLOEXEC | noFollow)"),
    ("atomic writes", "Sources/AshitaSystem/SecureFiles.swift",
     'let temp = "\\(file).tmp-\\(getpid())-\\(String(UInt32.random(in: .min ... .max, using: &rng), radix: 36))"',
     'let temp = file; unlink(file); _ = rng'),
    ("leftover temporary files removed", "Sources/AshitaSystem/SecureFiles.swift",
     'if name.contains(".tmp-") { unlink("\\(directory)/\\(name)") }', "_ = name"),
    ("watch bounds a line", "Sources/AshitaClient/ServerSentEvents.swift",
     "guard pending.count < Self.maxLineBytes else { throw .line }", ""),
    ("watch times out a silent server", "Sources/AshitaClient/CurlHTTPClient.swift",
     "if !sink.gotHead, let deadline = sink.headDeadline, ContinuousClock.now > deadline {",
     "if false, !sink.gotHead, let deadline = sink.headDeadline, ContinuousClock.now > deadline {"),
    ("connect --once times out a silent greeting", "Sources/ashita/Connect.swift",
     "let greeted = try await withDeadline(settings.timeout) {", "let greeted = try await withDeadline(.seconds(3600)) {"),
    ("terminal escapes", "Sources/AshitaTerminal/Terminal.swift",
     "case 0..<0x20, 0x7F...0x9F, 0x200E, 0x200F, 0x202A...0x202E, 0x2066...0x2069:", "case 0x110000...:"),
    ("TLS certificates verified by the CLI", "Sources/AshitaClient/CurlHTTPClient.swift",
     "                if !verifyCertificates {", "                if true {"),
    ("dials rate-bound", "Sources/AshitaCore/Membership/Membership+Links.swift",
     "guard dialBucket.take(at: now) else {", "guard dialBucket.take(at: now) || true else {"),
    ("unreachable only with silence", "Sources/AshitaCore/Membership/Membership+Links.swift",
     "            now.milliseconds - state.lastHeard.milliseconds >= scaledProbeTimeout\n        else { return [] }",
     "            now.milliseconds - state.lastHeard.milliseconds >= 0\n        else { return [] }"),
    ("link greetings rate-bound per address", "Sources/AshitaNode/GreetingBuckets.swift",
     "        let admitted = bucket.take(at: now)", "        let admitted = bucket.take(at: now) || true"),
    ("link greetings rate-bound for all addresses", "Sources/AshitaNode/GreetingBuckets.swift",
     "        return admitted && all.take(at: now)", "        return admitted"),
]

def run(cmd, timeout):
    start = time.monotonic()
    try:
        out = subprocess.run(cmd, shell=True, capture_output=True, text=True, timeout=timeout)
        return out.returncode, out.stdout + out.stderr, time.monotonic() - start
    except subprocess.TimeoutExpired as e:
        return -1, (e.stdout or b"").decode(errors="replace") if isinstance(e.stdout, bytes) else (e.stdout or ""), time.monotonic() - start

def main():
    wanted = set(sys.argv[1:])
    rows = []
    for name, path, original, replacement in MUTATIONS:
        if wanted and name not in wanted:
            continue
        text = open(path).read()
        count = text.count(original)
        if count != 1:
            rows.append((name, f"NOT APPLIED: the original occurs {count} times in {path}", ""))
            print(rows[-1], flush=True)
            continue
        try:
            open(path, "w").write(text.replace(original, replacement))
            code, log, _ = run("swift build --build-tests 2>&1", 900)
            if code != 0:
                rows.append((name, "does not compile: " + " ".join(re.findall(r"error: (.*)", log)[:1]), ""))
            else:
                code, log, elapsed = run("swift test --skip-build 2>&1", 1200)
                # Each failed test with how long it ran before it failed.
                times = dict(re.findall(r"✘ Test (\w+)\([^)]*\)[^\n]*? failed after ([0-9.]+) seconds", log))
                failed = sorted(set(re.findall(r"✘ Test (\w+)\(", log)))
                if code == -1:
                    verdict = "the suite hung (killed after 20 min)"
                elif code == 0:
                    verdict = "NOT NOTICED: the suite passed"
                elif not failed:
                    crash = re.search(r"Fatal error: (.*)", log)
                    verdict = "the test run crashed: " + (crash.group(1)[:100] if crash else "see log")
                else:
                    verdict = ", ".join(f"{t} ({float(times[t]):.1f} s)" if t in times else t for t in failed)
                rows.append((name, verdict, f"{elapsed:.0f} s"))
        finally:
            open(path, "w").write(text)
        print(rows[-1], flush=True)
    with open("Tests/mutations/results.md", "w") as out:
        out.write("| mechanism disabled | tests that failed | whole run |\n|---|---|---|\n")
        for row in rows:
            out.write(f"| {row[0]} | {row[1]} | {row[2]} |\n")
    subprocess.run("swift build --build-tests >/dev/null 2>&1", shell=True)

if __name__ == "__main__":
    main()
