import AshitaTestSupport
import AshitaClient
import Foundation
import Synchronization
import Testing

/// Headless Chromium (Debian's `chromium`), driven over the DevTools protocol with ashita's own WebSocket client.
final class Chromium: Sendable {
    let process: ChildProcess
    let devToolsPort: Int
    let profile: String

    static var executable: String {
        ProcessInfo.processInfo.environment["CHROMIUM"] ?? "/usr/bin/chromium"
    }

    /// `extraArguments`: e.g. `--ignore-certificate-errors` for pages served with the tests' own certificate.
    static func launch(extraArguments: [String] = []) async throws -> Chromium {
        guard FileManager.default.isExecutableFile(atPath: executable) else {
            throw BrowserError("no Chromium at \(executable): apt-get install chromium (or set CHROMIUM)")
        }
        let profile = temporaryDirectory("ashita-chromium")
        let process = try ChildProcess(
            executable,
            [
                "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
                "--no-default-browser-check", "--disable-extensions", "--remote-debugging-address=127.0.0.1",
                "--remote-debugging-port=0", "--user-data-dir=\(profile)",
            ] + extraArguments + ["about:blank"], standardOutput: .discard)
        let stderr = process.standardError!
        // Chromium says where DevTools listens on stderr: "DevTools listening on ws://127.0.0.1:PORT/devtools/...".
        let port: Int? = try await within(120, "Chromium to start") {
            await withCheckedContinuation { continuation in
                Thread.detachNewThread {
                    var text = ""
                    var answered = false
                    while true {
                        let chunk = stderr.availableData
                        if chunk.isEmpty { break }
                        guard !answered else { continue }  // keep draining so Chromium never blocks on a full pipe
                        text += String(decoding: chunk, as: UTF8.self)
                        if let match = text.firstMatch(of: /DevTools listening on ws:\/\/127\.0\.0\.1:(\d+)\//) {
                            answered = true
                            continuation.resume(returning: Int(match.1))
                        }
                    }
                    if !answered { continuation.resume(returning: nil) }
                }
            }
        }
        guard let port else {
            process.signal(SIGKILL)
            throw BrowserError("Chromium exited without opening DevTools")
        }
        return Chromium(process: process, devToolsPort: port, profile: profile)
    }

    private init(process: ChildProcess, devToolsPort: Int, profile: String) {
        self.process = process
        self.devToolsPort = devToolsPort
        self.profile = profile
    }

    /// A new tab, attached before it loads anything, then sent to `url`.
    func open(_ url: String) async throws -> BrowserPage {
        let response = try await CurlHTTPClient().request("PUT", "http://127.0.0.1:\(devToolsPort)/json/new?about:blank")
        let target = try #require(try JSONSerialization.jsonObject(with: Data(response.body)) as? [String: Any])
        let debuggerURL = try #require(target["webSocketDebuggerUrl"] as? String)
        let path = String(debuggerURL.drop(while: { $0 != "/" }).dropFirst(2).drop(while: { $0 != "/" }))
        let socket = try await WebSocketPeer.local(port: devToolsPort, path: path)
        let page = BrowserPage(socket: socket)
        try await page.call("Runtime.enable")
        try await page.call("Log.enable")
        try await page.call("Page.enable")
        try await page.call("Page.navigate", ["url": url])
        try await page.waitForEvent("Page.loadEventFired")
        return page
    }

    /// Stops Chromium (SIGKILL if SIGTERM has not ended it within 10 s) and removes its profile.
    func quit() async {
        process.signal(SIGTERM)
        let killer = Task { [process] in
            try await Task.sleep(for: .seconds(10))
            process.signal(SIGKILL)
        }
        _ = await process.status()
        killer.cancel()
        try? FileManager.default.removeItem(atPath: profile)
    }

    /// Runs `body` with a Chromium that is quit afterwards, whether `body` succeeds or throws.
    static func with<T: Sendable>(
        extraArguments: [String] = [], _ body: @Sendable (Chromium) async throws -> T
    ) async throws -> T {
        let browser = try await launch(extraArguments: extraArguments)
        do {
            let result = try await body(browser)
            await browser.quit()
            return result
        } catch {
            await browser.quit()
            throw error
        }
    }
}

struct BrowserError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// One tab. Commands go one at a time; events that arrive meanwhile are kept, and errors the page reports
/// (console errors, uncaught exceptions, failed loads) are collected for the test to check.
actor BrowserPage {
    private let socket: WebSocketPeer
    private var nextID = 1
    private var seenEvents: [String] = []
    private(set) var errors: [String] = []

    init(socket: WebSocketPeer) {
        self.socket = socket
    }

    @discardableResult
    func call(_ method: String, _ params: [String: String] = [:]) async throws -> JSValue {
        JSValue(try await rawCall(method, params))
    }

    private func rawCall(_ method: String, _ params: [String: Any] = [:]) async throws -> [String: Any] {
        let id = nextID
        nextID += 1
        let request = try JSONSerialization.data(withJSONObject: ["id": id, "method": method, "params": params])
        try await socket.send(String(decoding: request, as: UTF8.self))
        while true {
            let message = try await nextMessage()
            if message["id"] as? Int == id {
                if let error = message["error"] as? [String: Any] { throw BrowserError("\(method): \(error)") }
                return message["result"] as? [String: Any] ?? [:]
            }
        }
    }

    func waitForEvent(_ method: String) async throws {
        if let index = seenEvents.firstIndex(of: method) {
            seenEvents.remove(at: index)
            return
        }
        while try await nextMessage()["method"] as? String != method {}
    }

    /// Evaluates JavaScript in the page; a promise is awaited.
    func evaluate(_ expression: String) async throws -> JSValue {
        let result = try await rawCall(
            "Runtime.evaluate", ["expression": expression, "awaitPromise": true, "returnByValue": true])
        if let exception = result["exceptionDetails"] as? [String: Any] {
            let detail = (exception["exception"] as? [String: Any])?["description"] ?? exception["text"] ?? exception
            throw BrowserError("page threw: \(detail)")
        }
        return JSValue((result["result"] as? [String: Any])?["value"])
    }

    /// Resolves once `condition` (a JavaScript expression) is truthy in the page, with its value.
    @discardableResult
    func waitUntil(_ condition: String, seconds: Int = 10) async throws -> JSValue {
        try await evaluate(
            """
            new Promise((resolve, reject) => {
              const deadline = Date.now() + \(seconds * 1000);
              (function check() {
                let value;
                try { value = (\(condition)); } catch (e) { value = undefined; }
                if (value) resolve(value);
                else if (Date.now() > deadline) reject(new Error("still false: " + \(jsString(condition))));
                else setTimeout(check, 20);
              })();
            })
            """)
    }

    private func nextMessage() async throws -> [String: Any] {
        let message = try await within(60, "the browser") { await self.socket.next() }
        guard case .text(let text)? = message,
            let object = try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any]
        else { throw BrowserError("DevTools connection ended") }
        if let method = object["method"] as? String {
            seenEvents.append(method)
            let params = object["params"] as? [String: Any] ?? [:]
            switch method {
            case "Runtime.exceptionThrown":
                errors.append("exception: \(params["exceptionDetails"] ?? params)")
            case "Runtime.consoleAPICalled" where params["type"] as? String == "error":
                errors.append("console.error: \(params["args"] ?? params)")
            case "Log.entryAdded":
                if let entry = params["entry"] as? [String: Any], entry["level"] as? String == "error" {
                    errors.append("log: \(entry["text"] ?? entry) \(entry["url"] ?? "")")
                }
            default:
                break
            }
        }
        return object
    }

    func close() async {
        await socket.close()
    }
}

func jsString(_ text: String) -> String {
    String(decoding: try! JSONSerialization.data(withJSONObject: [text]), as: UTF8.self).dropFirst().dropLast().description
}

/// A JavaScript value as JSON has it, Sendable so it can leave the page's actor.
enum JSValue: Sendable, Equatable {
    case null, bool(Bool), number(Double), string(String), array([JSValue]), object([String: JSValue])

    init(_ any: Any?) {
        switch any {
        case let b as Bool where type(of: any!) == Bool.self || "\(type(of: any!))".contains("Bool"): self = .bool(b)
        case let n as NSNumber: self = .number(n.doubleValue)
        case let s as String: self = .string(s)
        case let a as [Any]: self = .array(a.map(JSValue.init))
        case let o as [String: Any]: self = .object(o.mapValues(JSValue.init))
        default: self = .null
        }
    }

    var string: String? { if case .string(let s) = self { s } else { nil } }
    var int: Int? { if case .number(let n) = self { Int(n) } else { nil } }
    var strings: [String]? { if case .array(let a) = self { a.compactMap(\.string) } else { nil } }
}
