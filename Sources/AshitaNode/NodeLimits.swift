/// Bounds that keep one node's memory, sockets and time in check. Defaults are safe for a node left on the
/// internet; each has a `serve` flag.
public struct NodeLimits: Sendable {
    /// WebSocket clients at once; more are closed with 1013.
    public var maxClients = 10_000
    /// TCP connections at once from one remote IP (HTTP and WebSocket); more are closed at once.
    public var maxConnectionsPerIP = 256
    /// Messages a second per WebSocket, on average and in a burst; excess is answered `rate-limited`.
    public var messageRate = 20
    public var messageBurst = 50
    /// Seconds a WebSocket may stay without sending `auth` before it is closed with 1008.
    public var authTimeoutSeconds = 10.0
    /// Seconds between the node's pings on each WebSocket; a link that misses two pongs is closed.
    public var pingIntervalSeconds = 20.0
    /// Largest WebSocket message accepted (fragments included); larger closes with 1009.
    public var maxFrameBytes = 64 * 1024
    /// Bytes queued for one slow reader before it is closed with 1008 (the channel's high watermark).
    public var outboundBufferBytes = 1 << 20
    /// Event streams (`/api/v1/events`) at once; more are answered 503.
    public var maxEventStreams = 256
    /// Journal entries queued for one slow event-stream reader before its stream is ended.
    public var eventStreamBuffer = 1024
    /// Largest HTTP request head (request line and headers) read; larger is answered 431.
    public var maxHeaderBytes = 16 * 1024
    /// Largest HTTP request body read; larger is answered 413.
    public var maxRequestBodyBytes = 16 * 1024
    /// Seconds a connection has to send a complete request head, first or next (slowloris).
    public var headerTimeoutSeconds = 10.0
    /// Seconds between comment heartbeats on an event stream.
    public var eventStreamHeartbeatSeconds = 15
    /// Check announced homes before relaying them.
    public var verifyAnnouncements = true
    /// Distinct homes one WebSocket may announce.
    public var maxAnnouncementsPerClient = 8
    /// Seconds an announcement check may take.
    public var verifyTimeoutSeconds = 2.0
    /// The kernel's send buffer per connection (SO_SNDBUF); nil leaves it to the kernel's autotuning. Tests
    /// set it small so a slow reader reaches the node's own bound after kilobytes instead of megabytes.
    public var socketSendBufferBytes: Int?

    public init() {}
}
