import AshitaCore
import AshitaNode
import AshitaTerminal
import ArgumentParser

/// `serve`'s limits: each bound the node keeps, with its safe default.
public struct ServeLimits: ParsableArguments {
    public init() {}

    @Option(help: ArgumentHelp("WebSocket clients at once; more are closed with 1013.", valueName: "n"))
    var maxClients = NodeLimits().maxClients

    @Option(help: ArgumentHelp(
        "TCP connections at once; when full, the oldest connection that has done nothing yet makes room.",
        valueName: "n"))
    var maxConnections = NodeLimits().maxConnections

    @Option(help: ArgumentHelp("Connections at once from one IP address; more are dropped.", valueName: "n"))
    var maxConnectionsPerIp = NodeLimits().maxConnectionsPerIP

    @Option(help: ArgumentHelp("Messages a second per WebSocket; excess is answered rate-limited.", valueName: "n"))
    var messageRate = NodeLimits().messageRate

    @Option(help: ArgumentHelp("Messages one WebSocket may send in a burst.", valueName: "n"))
    var messageBurst = NodeLimits().messageBurst

    @Option(help: ArgumentHelp("Seconds a WebSocket has to send auth before it is closed.", valueName: "seconds"))
    var authTimeout = Seconds(NodeLimits().authTimeout)

    @Option(help: ArgumentHelp("Seconds between pings; two unanswered close the link.", valueName: "seconds"))
    var pingInterval = Seconds(NodeLimits().pingInterval)

    @Option(help: ArgumentHelp("Bytes queued for one slow reader before it is closed with 1008.", valueName: "bytes"))
    var maxOutboundBytes = NodeLimits().outboundBufferBytes

    @Option(help: ArgumentHelp(
        "The kernel's send buffer per connection (SO_SNDBUF; by default WebSockets are left to autotuning and HTTP gets --max-answer-bytes).",
        valueName: "bytes"))
    var socketSendBuffer: Int?

    @Option(help: ArgumentHelp("Event streams (/api/v1/events) at once.", valueName: "n"))
    var maxEventStreams = NodeLimits().maxEventStreams

    @Option(help: ArgumentHelp("Event streams at once from one IP address (an IPv6 address by its /64).", valueName: "n"))
    var maxEventStreamsPerIp = NodeLimits().maxEventStreamsPerIP

    @Option(help: ArgumentHelp("Seconds a connection has to send a complete request head.", valueName: "seconds"))
    var headerTimeout = Seconds(NodeLimits().headerTimeout)

    @Option(help: ArgumentHelp("Seconds a request body has to arrive once its head is in.", valueName: "seconds"))
    var bodyTimeout = Seconds(NodeLimits().bodyTimeout)

    @Option(help: ArgumentHelp(
        "Seconds a client may leave an HTTP answer or event-stream data unread before it is dropped.",
        valueName: "seconds"))
    var sendTimeout = Seconds(NodeLimits().sendTimeout)

    @Option(help: ArgumentHelp(
        "Bytes of HTTP answers queued for one client before the node stops reading its requests.", valueName: "bytes"))
    var maxAnswerBytes = NodeLimits().httpOutboundBytes

    @Option(help: ArgumentHelp("Largest HTTP request head (request line and headers); larger gets 431.", valueName: "bytes"))
    var maxHeaderBytes = NodeLimits().maxHeaderBytes

    @Option(help: ArgumentHelp("Largest HTTP request body; larger gets 413.", valueName: "bytes"))
    var maxBodyBytes = NodeLimits().maxRequestBodyBytes

    @Option(help: ArgumentHelp("Largest WebSocket message; larger is closed with 1009.", valueName: "bytes"))
    var maxFrameBytes = NodeLimits().maxFrameBytes

    @Flag(help: "Relay announced homes without checking that an ashita node answers there (closed networks only).")
    var noVerifyAnnouncements = false

    @Option(help: ArgumentHelp(
        "Seconds an announcement check may take where a node answered before (half of it elsewhere).",
        valueName: "seconds"))
    var checkTimeout = Seconds(NodeLimits().verifyTimeout)

    @Option(help: ArgumentHelp("Announcement checks in flight at once.", valueName: "n"))
    var maxChecks = NodeLimits().checks.maxInFlight

    @Option(help: ArgumentHelp("Announcement checks a second, to all places together.", valueName: "n"))
    var checkRate = NodeLimits().checks.contactRate

    @Option(help: ArgumentHelp("Announcement checks a second to one IP address (any port).", valueName: "n"))
    var checkRatePerHost = NodeLimits().checks.hostRate

    @Option(
        name: .customLong("allow-checks-to"),
        help: ArgumentHelp(
            "Let announcement checks reach this network (CIDR, repeatable) besides the internet and the kind of network the node is on.",
            valueName: "cidr"))
    var allowChecksTo: [String] = []

    public func validate() throws {
        for (name, value) in [
            ("--max-clients", maxClients), ("--max-connections", maxConnections),
            ("--max-connections-per-ip", maxConnectionsPerIp), ("--message-rate", messageRate),
            ("--message-burst", messageBurst), ("--max-event-streams", maxEventStreams),
            ("--max-event-streams-per-ip", maxEventStreamsPerIp), ("--max-checks", maxChecks),
            ("--check-rate", checkRate), ("--check-rate-per-host", checkRatePerHost),
        ] where !(1...1_000_000).contains(value) {
            throw ValidationError("\(name) must be from 1 to 1000000, got \(value)")
        }
        for (name, value) in [
            ("--auth-timeout", authTimeout), ("--ping-interval", pingInterval), ("--header-timeout", headerTimeout),
            ("--body-timeout", bodyTimeout), ("--send-timeout", sendTimeout), ("--check-timeout", checkTimeout),
        ] where !value.isWithin(.milliseconds(10), .seconds(86_400)) {
            throw ValidationError("\(name) must be from 0.01 to 86400 seconds, got \(value)")
        }
        for (name, value, range) in [
            ("--max-outbound-bytes", maxOutboundBytes, 4096...(1 << 30)), ("--max-header-bytes", maxHeaderBytes, 1024...(64 << 10)),
            ("--max-body-bytes", maxBodyBytes, 0...(16 << 20)), ("--max-frame-bytes", maxFrameBytes, 1024...(16 << 20)),
            ("--max-answer-bytes", maxAnswerBytes, 1024...(64 << 20)),
        ] where !range.contains(value) {
            throw ValidationError("\(name) must be from \(range.lowerBound) to \(range.upperBound), got \(value)")
        }
        if let socketSendBuffer, !(1024...(64 << 20)).contains(socketSendBuffer) {
            throw ValidationError("--socket-send-buffer must be from 1024 to 67108864, got \(socketSendBuffer)")
        }
        for network in allowChecksTo where IPNetwork(network) == nil {
            throw ValidationError("--allow-checks-to takes a network as ADDRESS/BITS (e.g. 10.0.0.0/8), got '\(network)'")
        }
    }

    public var limits: NodeLimits {
        var limits = NodeLimits()
        limits.maxClients = maxClients
        limits.maxConnectionsPerIP = maxConnectionsPerIp
        limits.messageRate = messageRate
        limits.messageBurst = messageBurst
        limits.authTimeout = authTimeout.duration
        limits.pingInterval = pingInterval.duration
        limits.outboundBufferBytes = maxOutboundBytes
        limits.maxEventStreams = maxEventStreams
        limits.maxEventStreamsPerIP = maxEventStreamsPerIp
        limits.headerTimeout = headerTimeout.duration
        limits.maxHeaderBytes = maxHeaderBytes
        limits.maxRequestBodyBytes = maxBodyBytes
        limits.maxFrameBytes = maxFrameBytes
        limits.verifyAnnouncements = !noVerifyAnnouncements
        limits.maxConnections = maxConnections
        limits.socketSendBufferBytes = socketSendBuffer
        limits.bodyTimeout = bodyTimeout.duration
        limits.sendTimeout = sendTimeout.duration
        limits.httpOutboundBytes = maxAnswerBytes
        limits.verifyTimeout = checkTimeout.duration
        limits.checks.maxInFlight = maxChecks
        limits.checks.contactRate = checkRate
        limits.checks.contactBurst = checkRate * 2
        limits.checks.hostRate = checkRatePerHost
        limits.checks.hostBurst = checkRatePerHost * 4
        limits.allowChecksTo = allowChecksTo.compactMap(IPNetwork.init)
        return limits
    }
}
