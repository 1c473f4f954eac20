// swift-tools-version: 6.0
import PackageDescription

/// The rules and their simulator are optimized in debug builds too: a thousand simulated nodes take minutes
/// unoptimized and seconds optimized, and `swift test` builds for debug.
let simulationSpeed: [SwiftSetting] = [.unsafeFlags(["-O"], .when(configuration: .debug))]

let package = Package(
    name: "ashita",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "ashita", targets: ["ashita"]),
        .executable(name: "ashita-node", targets: ["ashita-node"]),
        .library(name: "AshitaCore", targets: ["AshitaCore"]),
        .library(name: "AshitaNode", targets: ["AshitaNode"]),
        .library(name: "AshitaClient", targets: ["AshitaClient"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-nio-ssl", from: "2.37.6"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-nio-extras", from: "1.35.2"),
        .package(url: "https://github.com/apple/swift-crypto", from: "4.5.2"),
    ],
    targets: [
        // Protocol types, validation, the peer table and its rules. Pure: no I/O, the clock is passed in.
        .target(name: "AshitaCore", swiftSettings: simulationSpeed),

        // The node: HTTP, WebSocket and server-sent events on one port, over SwiftNIO.
        .target(
            name: "AshitaNode",
            dependencies: [
                "AshitaCore", "AshitaSystem",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOWebSocket", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "NIOExtras", package: "swift-nio-extras"),
            ],
            resources: [
                .embedInCode("Page/index.html"),
                .embedInCode("Page/ashita.js"),
                .embedInCode("Page/ashita.css"),
                .embedInCode("Page/favicon.svg"),
            ]
        ),

        // libcurl, as Debian's libcurl4-openssl-dev installs it.
        .systemLibrary(
            name: "CCurl",
            pkgConfig: "libcurl",
            providers: [.apt(["libcurl4-openssl-dev"])]
        ),
        // Non-variadic wrappers for curl_easy_setopt / curl_easy_getinfo, which Swift cannot call.
        .target(name: "CCurlShim", dependencies: ["CCurl"]),

        // What node and client both need from the system: owner-only atomic files, the wall clock, threads for
        // blocking work. Below both, so neither depends on the other.
        .target(name: "AshitaSystem", dependencies: ["AshitaCore"]),
        // Talking to nodes: HTTP through libcurl, WebSocket through SwiftNIO.
        .target(
            name: "AshitaClient",
            dependencies: [
                "AshitaCore", "AshitaSystem", "CCurl", "CCurlShim",
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOWebSocket", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
            ]
        ),

        // What the command line needs besides the argument parser: exit codes, one-line errors, text made safe.
        .target(name: "AshitaTerminal", dependencies: [.product(name: "ArgumentParser", package: "swift-argument-parser")]),
        // `serve`'s flags and the node they run: parsed by `ashita` for help and by `ashita-node` to run.
        .target(
            name: "AshitaServe",
            dependencies: [
                "AshitaCore", "AshitaNode", "AshitaTerminal",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        // The program `ashita serve` becomes (exec, same process): the node without the client's libraries.
        // In release it carries Swift's runtime and Foundation inside (only the parts it uses): 2 MB less resident
        // at idle than loading the shared libraries whole. It is linked with lld, exports none of its own symbols
        // (the static stdlib's `-export-dynamic` made all 26,000 of them dynamic: 2.5 MB of symbol tables the loader
        // reads at start) and packs its relative relocations (DT_RELR, glibc 2.36: 14 KB instead of 1.7 MB read and
        // applied at every start). Together 4.7 MB less resident at idle; still a position-independent executable.
        // The functions a node runs (`hot-functions.txt`, made by `.ci/hot-functions`) are laid out first and
        // together: the kernel maps code 64 KB around each page a process first runs, so scattered code is resident.
        .executableTarget(
            name: "ashita-node", dependencies: ["AshitaNode", "AshitaServe"],
            exclude: ["hot-functions.txt"],
            linkerSettings: [
                .unsafeFlags(
                    [
                        "-static-stdlib", "-l_FoundationCShims", "-l_FoundationCollections", "-use-ld=lld",
                        "-Xlinker", "--no-export-dynamic", "-Xlinker", "-z", "-Xlinker", "pack-relative-relocs",
                        "-Xlinker", "--symbol-ordering-file=\(Context.packageDirectory)/Sources/ashita-node/hot-functions.txt",
                        "-Xlinker", "--no-warn-symbol-ordering",
                    ],
                    .when(configuration: .release)
                )
            ]
        ),
        .executableTarget(
            name: "ashita",
            dependencies: [
                "AshitaCore", "AshitaSystem", "AshitaNode", "AshitaClient", "AshitaServe", "AshitaTerminal",
                // Not linked: built with `ashita`, so `swift run ashita serve` finds it beside itself.
                "ashita-node",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
            ]
        ),
        .executableTarget(
            name: "ashita-bench",
            dependencies: [
                "AshitaCore", "AshitaSystem", "AshitaClient", "LoopbackSockets",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOWebSocket", package: "swift-nio"),
            ]
        ),
        // Raw loopback sockets for the tests and the attack bench, which misbehave below HTTP.
        .target(name: "LoopbackSockets"),

        // Arbitrary bytes through decoding, validation and the mesh's state machine, with its invariants.
        .target(name: "AshitaFuzzHarness", dependencies: ["AshitaCore"]),
        // libFuzzer's target (Tests/fuzz/run.sh); built plainly, it replays the files it is given.
        .executableTarget(name: "ashita-fuzz", dependencies: ["AshitaFuzzHarness"]),

        .testTarget(
            name: "AshitaCoreTests", dependencies: ["AshitaCore", "AshitaSystem", "AshitaFuzzHarness"], swiftSettings: simulationSpeed),
        // Helpers both socket-level and process-level tests use.
        .target(
            name: "AshitaTestSupport",
            dependencies: [
                "AshitaSystem", "AshitaClient", "LoopbackSockets",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOWebSocket", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
            ],
            path: "Tests/AshitaTestSupport"),
        .testTarget(
            name: "AshitaNodeTests",
            dependencies: [
                "AshitaCore", "AshitaSystem", "AshitaNode", "AshitaClient", "AshitaTestSupport",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // The client's parts that need no node: event-stream parsing, resume position, credentials.
        .testTarget(name: "AshitaClientTests", dependencies: ["AshitaCore", "AshitaSystem", "AshitaClient"]),
        // Runs the built `ashita` executable as a process against real nodes.
        .testTarget(
            name: "AshitaCLITests", dependencies: ["AshitaCore", "AshitaSystem", "AshitaClient", "AshitaTestSupport", "LoopbackSockets"]),
    ],
    swiftLanguageModes: [.v6]
)
