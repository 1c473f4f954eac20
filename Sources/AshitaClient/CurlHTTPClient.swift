import AshitaSystem
import CCurl
#if canImport(Glibc)
import Glibc
#endif
import CCurlShim

/// What a node answered over HTTP.
public struct HTTPResponse: Sendable {
    public var status: Int
    public var body: [UInt8]

    public var text: String { String(decoding: body, as: UTF8.self) }
}

/// Why a request got no answer. `unreachable` is the node not being there; the rest are its answers' faults.
public enum HTTPClientError: Error, Equatable, CustomStringConvertible {
    /// The node could not be reached: refused, unresolvable, timed out. `reason` is libcurl's, lowercased.
    case unreachable(url: String, reason: String, curlCode: Int)
    /// The answer was larger than the caller accepts.
    case tooLarge(url: String, limit: Int)
    /// The caller stopped a stream.
    case stopped
    /// Anything else libcurl reports.
    case transfer(url: String, reason: String, curlCode: Int)
    /// The TLS handshake failed or the certificate was not accepted.
    case tls(url: String, reason: String)

    public var description: String {
        switch self {
        case .unreachable(let url, let reason, _): "cannot reach \(url) (\(reason))"
        case .tooLarge(let url, let limit): "\(url) answered with more than \(limit) bytes"
        case .stopped: "stopped"
        case .transfer(let url, let reason, _): "request to \(url) failed (\(reason))"
        case .tls(let url, let reason): "TLS with \(url) failed (\(reason))"
        }
    }
}

/// HTTP through libcurl (Debian's libcurl4-openssl-dev). Each call is one blocking transfer on its own handle;
/// the async versions run it on a thread of its own, off Swift's cooperative pool.
public struct CurlHTTPClient: Sendable {
    /// Bounds connection set-up, and for whole requests the transfer too.
    public var timeoutSeconds: Double
    public var maxResponseBytes: Int
    /// For `https://`: a PEM file of CA certificates to trust instead of the system's (a private CA).
    public var caFile: String?
    /// For `https://`: whether the certificate must be valid for the host. Only the node's own announcement
    /// check turns this off: it asks whether an ashita node answers, not who runs it.
    public var verifyCertificates = true

    public init(timeoutSeconds: Double = 5, maxResponseBytes: Int = 4 << 20, caFile: String? = nil) {
        self.timeoutSeconds = timeoutSeconds
        self.maxResponseBytes = maxResponseBytes
        self.caFile = caFile
        _ = Self.globalInit
    }

    /// `curl_global_init` once per process, before any handle.
    private static let globalInit: Void = { curl_global_init(Int(CURL_GLOBAL_ALL)) }()

    public static var libcurlVersion: String { String(cString: ashita_curl_version()) }

    public func get(_ url: String, headers: [String] = []) async throws(HTTPClientError) -> HTTPResponse {
        try await offPool { () throws(HTTPClientError) in try perform(method: "GET", url: url, headers: headers) }
    }

    public func post(_ url: String, headers: [String] = [], body: [UInt8] = []) async throws(HTTPClientError) -> HTTPResponse {
        try await offPool { () throws(HTTPClientError) in try perform(method: "POST", url: url, headers: headers, body: body) }
    }

    /// Any other method, e.g. PUT or DELETE, without a body.
    public func request(_ method: String, _ url: String, headers: [String] = []) async throws(HTTPClientError) -> HTTPResponse {
        try await offPool { () throws(HTTPClientError) in try perform(method: method, url: url, headers: headers) }
    }

    private func offPool(_ work: @escaping @Sendable () throws(HTTPClientError) -> HTTPResponse) async throws(HTTPClientError) -> HTTPResponse {
        try await onDedicatedThread { Result { () throws(HTTPClientError) in try work() } }.get()
    }

    /// One whole request, blocking the calling thread.
    public func perform(method: String, url: String, headers: [String] = [], body: [UInt8]? = nil) throws(HTTPClientError) -> HTTPResponse {
        let sink = ResponseSink(limit: maxResponseBytes)
        let code = transfer(url: url, method: method, headers: headers, body: body, sink: sink, stream: false)
        if sink.overflowed { throw .tooLarge(url: url, limit: maxResponseBytes) }
        try check(code.curl, url: url, detail: code.detail)
        return HTTPResponse(status: code.status, body: sink.bytes)
    }

    /// A long-lived GET (an event stream): `onData` gets each chunk as it arrives and returns false to stop.
    /// Set-up is timed (the connection, and the answer's head within `timeoutSeconds` of the start); the
    /// stream itself is not, and a silent one is checked about every second through `shouldStop`.
    /// Returns the HTTP status and content type when the server ends the stream.
    public func stream(
        _ url: String, headers: [String] = [], shouldStop: @escaping @Sendable () -> Bool,
        onData: @escaping ([UInt8]) -> Bool
    ) throws(HTTPClientError) -> (status: Int, contentType: String) {
        let sink = ResponseSink(limit: .max, onData: onData, shouldStop: shouldStop)
        sink.headDeadline = .now + .milliseconds(Int(timeoutSeconds * 1000))
        let code = transfer(url: url, method: "GET", headers: headers, body: nil, sink: sink, stream: true)
        if sink.headTimedOut {
            throw .unreachable(url: url, reason: "no answer within \(Self.seconds(timeoutSeconds))", curlCode: 28)
        }
        if sink.stopped { throw .stopped }
        try check(code.curl, url: url, detail: code.detail)
        return (code.status, code.contentType)
    }

    private func check(_ code: CURLcode, url: String, detail: String) throws(HTTPClientError) {
        guard code != CURLE_OK else { return }
        let reason = (detail.isEmpty ? String(cString: curl_easy_strerror(code)) : detail).lowercased()
        switch code {
        case CURLE_COULDNT_CONNECT, CURLE_COULDNT_RESOLVE_HOST, CURLE_OPERATION_TIMEDOUT, CURLE_GOT_NOTHING,
            CURLE_RECV_ERROR, CURLE_SEND_ERROR:
            throw .unreachable(url: url, reason: reason, curlCode: Int(code.rawValue))
        case CURLE_PEER_FAILED_VERIFICATION, CURLE_SSL_CONNECT_ERROR, CURLE_SSL_CACERT_BADFILE, CURLE_SSL_CERTPROBLEM:
            throw .tls(url: url, reason: reason)
        default:
            throw .transfer(url: url, reason: reason, curlCode: Int(code.rawValue))
        }
    }

    private func transfer(url: String, method: String, headers: [String], body: [UInt8]?, sink: ResponseSink, stream: Bool)
        -> (curl: CURLcode, status: Int, detail: String, contentType: String)
    {
        guard let handle = curl_easy_init() else { return (CURLE_FAILED_INIT, 0, "cannot start libcurl", "") }
        defer { curl_easy_cleanup(handle) }
        var errorBuffer = [CChar](repeating: 0, count: Int(CURL_ERROR_SIZE) + 1)
        var list: UnsafeMutablePointer<curl_slist>?
        for header in headers { list = curl_slist_append(list, header) }
        defer { curl_slist_free_all(list) }
        let postBody = body ?? []
        let code: CURLcode = errorBuffer.withUnsafeMutableBufferPointer { errors in
            postBody.withUnsafeBufferPointer { bodyBytes in
                ashita_curl_setopt_string(handle, CURLOPT_URL, url)
                ashita_curl_setopt_pointer(handle, CURLOPT_ERRORBUFFER, errors.baseAddress)
                ashita_curl_setopt_long(handle, CURLOPT_NOSIGNAL, 1)
                ashita_curl_setopt_long(handle, CURLOPT_CONNECTTIMEOUT_MS, Int(timeoutSeconds * 1000))
                ashita_curl_setopt_long(handle, CURLOPT_FOLLOWLOCATION, 0)
                ashita_curl_setopt_string(handle, CURLOPT_USERAGENT, "ashita/\(ashitaClientVersion) libcurl/\(Self.libcurlVersion)")
                ashita_curl_setopt_string(handle, CURLOPT_PROTOCOLS_STR, "http,https")
                if let caFile { ashita_curl_setopt_string(handle, CURLOPT_CAINFO, caFile) }
                if !verifyCertificates {
                    ashita_curl_setopt_long(handle, CURLOPT_SSL_VERIFYPEER, 0)
                    ashita_curl_setopt_long(handle, CURLOPT_SSL_VERIFYHOST, 0)
                }
                if stream {
                    ashita_curl_setopt_header_callback(handle, headerCallback)
                    ashita_curl_setopt_pointer(handle, CURLOPT_HEADERDATA, Unmanaged.passUnretained(sink).toOpaque())
                    ashita_curl_setopt_long(handle, CURLOPT_NOPROGRESS, 0)
                    ashita_curl_setopt_xferinfo_callback(handle, progressCallback)
                    ashita_curl_setopt_pointer(handle, CURLOPT_XFERINFODATA, Unmanaged.passUnretained(sink).toOpaque())
                } else {
                    ashita_curl_setopt_long(handle, CURLOPT_TIMEOUT_MS, Int(timeoutSeconds * 1000))
                }
                ashita_curl_setopt_long(handle, CURLOPT_PATH_AS_IS, 1)
                if method != "GET" && method != "POST" { ashita_curl_setopt_string(handle, CURLOPT_CUSTOMREQUEST, method) }
                if method == "POST" {
                    ashita_curl_setopt_long(handle, CURLOPT_POST, 1)
                    ashita_curl_setopt_pointer(handle, CURLOPT_POSTFIELDS, UnsafeMutableRawPointer(mutating: bodyBytes.baseAddress))
                    ashita_curl_setopt_long(handle, CURLOPT_POSTFIELDSIZE, bodyBytes.count)
                }
                if list != nil { ashita_curl_setopt_slist(handle, CURLOPT_HTTPHEADER, list) }
                ashita_curl_setopt_write_callback(handle, writeCallback)
                ashita_curl_setopt_pointer(handle, CURLOPT_WRITEDATA, Unmanaged.passUnretained(sink).toOpaque())
                return curl_easy_perform(handle)
            }
        }
        var status = 0
        ashita_curl_getinfo_long(handle, CURLINFO_RESPONSE_CODE, &status)
        var osErrno = 0
        ashita_curl_getinfo_long(handle, CURLINFO_OS_ERRNO, &osErrno)
        var type: UnsafePointer<CChar>?
        ashita_curl_getinfo_string(handle, CURLINFO_CONTENT_TYPE, &type)
        let contentType = type.map { String(cString: $0) } ?? ""
        // "Failed to connect … Couldn't connect to server" says less than the system's own reason.
        if code == CURLE_COULDNT_CONNECT, osErrno == Int(ECONNREFUSED) { return (code, status, "connection refused", contentType) }
        let detail = String(decoding: errorBuffer.prefix(while: { $0 != 0 }).map { UInt8(bitPattern: $0) }, as: UTF8.self)
        return (code, status, detail, contentType)
    }
}

extension CurlHTTPClient {
    static func seconds(_ value: Double) -> String {
        value == value.rounded() ? "\(Int(value)) s" : "\(value) s"
    }
}

public let ashitaClientVersion = "0.1.0"

/// Where libcurl's callbacks put what arrives. Used by one transfer on one thread at a time.
private final class ResponseSink {
    let limit: Int
    let onData: (([UInt8]) -> Bool)?
    let shouldStop: (@Sendable () -> Bool)?
    var bytes: [UInt8] = []
    var overflowed = false
    var stopped = false
    /// For streams: the answer's head must have begun by then.
    var headDeadline: ContinuousClock.Instant?
    var gotHead = false
    var headTimedOut = false

    init(limit: Int, onData: (([UInt8]) -> Bool)? = nil, shouldStop: (@Sendable () -> Bool)? = nil) {
        self.limit = limit
        self.onData = onData
        self.shouldStop = shouldStop
    }
}

// Callbacks capture nothing; their context comes through the WRITEDATA / XFERINFODATA pointer.
private let writeCallback: curl_write_callback = { data, size, count, context in
    let sink = Unmanaged<ResponseSink>.fromOpaque(context!).takeUnretainedValue()
    let n = size * count
    let chunk = data.map { Array(UnsafeRawBufferPointer(start: $0, count: n)) } ?? []
    if let onData = sink.onData {
        if !onData(chunk) {
            sink.stopped = true
            return 0
        }
        return n
    }
    guard sink.bytes.count + n <= sink.limit else {
        sink.overflowed = true
        return 0
    }
    sink.bytes += chunk
    return n
}

private let progressCallback: curl_xferinfo_callback = { context, _, _, _, _ in
    let sink = Unmanaged<ResponseSink>.fromOpaque(context!).takeUnretainedValue()
    if sink.shouldStop?() == true {
        sink.stopped = true
        return 1
    }
    if !sink.gotHead, let deadline = sink.headDeadline, ContinuousClock.now > deadline {
        // Connected, but nothing answers: a set-up that never ends is as good as none.
        sink.headTimedOut = true
        return 1
    }
    return 0
}

private let headerCallback: curl_write_callback = { _, size, count, context in
    Unmanaged<ResponseSink>.fromOpaque(context!).takeUnretainedValue().gotHead = true
    return size * count
}
