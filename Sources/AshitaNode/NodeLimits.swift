import AshitaCore

/// Bounds that keep one node's memory, sockets and time in check. Defaults are safe for a node left on the
/// internet; each has a `serve` flag. The mesh's own (`maxClients`, `messageRate`, …) are declared once, in
/// `MeshLimits`, and read and written here as if they were this type's.
@dynamicMemberLookup
public struct NodeLimits: Sendable {
    /// The mesh rules' limits, handed to the mesh as they are.
    public var mesh = MeshLimits()

    public subscript<Value>(dynamicMember limit: WritableKeyPath<MeshLimits, Value>) -> Value {
        get { mesh[keyPath: limit] }
        set { mesh[keyPath: limit] = newValue }
    }

    /// TCP connections at once in all (HTTP and WebSocket). When full, the oldest connection that has not yet
    /// done anything (no complete request, no `auth`) is closed to make room for the newcomer; only when every
    /// connection is doing something is the newcomer refused. Also capped by the process's descriptor limit.
    public var maxConnections = 16_384
    /// TCP connections at once from one remote IP (HTTP and WebSocket); more are closed at once.
    public var maxConnectionsPerIP = 256
    /// How long a WebSocket may stay without sending `auth` before it is closed with 1008.
    public var authTimeout: Duration = .seconds(10)
    /// Time between the node's pings on each WebSocket; a link that misses two pongs is closed.
    public var pingInterval: Duration = .seconds(20)
    /// Largest WebSocket message accepted (fragments included); larger closes with 1009.
    public var maxFrameBytes = 64 * 1024
    /// Bytes queued for one slow reader before it is closed with 1008 (the channel's high watermark).
    public var outboundBufferBytes = 1 << 20
    /// Event streams (`/api/v1/events`) at once; more are answered 503.
    public var maxEventStreams = 256
    /// Event streams at once from one address (an IPv6 address by its /64); more are answered 429.
    public var maxEventStreamsPerIP = 8
    /// Journal entries queued for one slow event-stream reader before its stream is ended.
    public var eventStreamBuffer = 256
    /// Largest HTTP request head (request line and headers) read; larger is answered 431.
    public var maxHeaderBytes = 16 * 1024
    /// Largest HTTP request body read; larger is answered 413.
    public var maxRequestBodyBytes = 16 * 1024
    /// How long a connection has to send a complete request head, first or next (slowloris).
    public var headerTimeout: Duration = .seconds(10)
    /// How long a request body has to arrive once its head is in.
    public var bodyTimeout: Duration = .seconds(10)
    /// How long a peer may leave an HTTP answer or event-stream data unread before its connection is closed.
    public var sendTimeout: Duration = .seconds(10)
    /// Bytes of HTTP answers waiting for one slow reader before the node stops reading its requests.
    public var httpOutboundBytes = 64 * 1024
    /// Time between comment heartbeats on an event stream.
    public var eventStreamHeartbeat: Duration = .seconds(15)
    /// How long an announcement check may take at an address verified before; half of it elsewhere.
    public var verifyTimeout: Duration = .seconds(4)
    /// Largest answer an announcement check reads.
    public var verifyAnswerBytes = 16 * 1024
    /// How many checks run and wait, how fast the node contacts other hosts, how long results are kept.
    public var checks = AnnouncementChecks.Limits()
    /// Networks that checks may contact besides the internet and the kind of network the node is on.
    public var allowChecksTo: [IPNetwork] = []
    /// The kernel's send buffer per connection (SO_SNDBUF); nil leaves WebSockets to the kernel's autotuning
    /// and gives HTTP connections `httpOutboundBytes`. Small, a slow reader reaches the node's own bound after
    /// kilobytes instead of megabytes.
    public var socketSendBufferBytes: Int?

    public init() {}
}
