// swift-tools-version:6.0
import PackageDescription

// Build settings shared by every target: none beyond the tools version's Swift 6 language mode
// (data races are compile errors).
let settings: [SwiftSetting] = []

let nio: [Target.Dependency] = [
    .product(name: "NIOCore", package: "swift-nio"),
    .product(name: "NIOPosix", package: "swift-nio"),
]

let package = Package(
    name: "wa-ha-cluster",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "wacluster", targets: ["wacluster"]),
        .executable(name: "wachaos", targets: ["wachaos"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.28.1"),
        .package(url: "https://github.com/jpsim/Yams.git", from: "6.2.2"),
        .package(url: "https://github.com/apple/swift-http-types.git", from: "1.8.0"),
        .package(url: "https://github.com/apple/swift-crypto.git", from: "3.12.3"),
        .package(url: "https://github.com/apple/swift-nio-extras.git", from: "1.35.2"),
        .package(url: "https://github.com/swift-server/async-http-client.git", from: "1.37.0"),
        .package(url: "https://github.com/apple/swift-nio-ssl.git", from: "2.37.6"),
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
        .package(url: "https://github.com/HdrHistogram/hdrhistogram-swift.git", from: "0.2.0"),
        .package(url: "https://github.com/apple/swift-async-algorithms.git", from: "1.1.4"),
    ],
    targets: [
        // System SQLite: no server needed, one file shared by every local node.
        .systemLibrary(name: "CSQLite", path: "Sources/CSQLite", pkgConfig: "sqlite3",
                       providers: [.apt(["libsqlite3-dev"])]),

        // Shared vocabulary: clock and time scale, errors, routing hash, settings, events.
        // Password hashes (PBKDF2) and the cluster secret's HMAC come from swift-crypto.
        .target(name: "WACore", dependencies: [.product(name: "Logging", package: "swift-log"),
                                               .product(name: "Crypto", package: "swift-crypto"),
                                               .product(name: "_CryptoExtras", package: "swift-crypto")],
                swiftSettings: settings),
        // Pure decision logic: lease, promotion, monitoring. No IO, no sleeping.
        .target(name: "WACoordination", dependencies: ["WACore"], swiftSettings: settings),
        // The storage contract, the rules above every backend, and the SQL written once for
        // every SQL engine (numbered migrations per dialect).
        .target(name: "WAStore", dependencies: ["WACore", "WACoordination"], swiftSettings: settings),
        // The embedded engine: one SQLite file, owned by the db node.
        .target(name: "WAStoreSQLite", dependencies: ["WACore", "WAStore", "CSQLite"], swiftSettings: settings),
        // PostgreSQL through the system libpq, on a bounded pool of threads of its own.
        .systemLibrary(name: "CLibPQ", path: "Sources/CLibPQ", pkgConfig: "libpq", providers: [.apt(["libpq-dev"])]),
        .target(name: "WAStorePostgres", dependencies: [
            "WACore", "WAStore", "CLibPQ",
            .product(name: "NIOPosix", package: "swift-nio"),
        ], swiftSettings: settings),
        // The db node's protocol: the client store every embedded-engine node uses, and the server side.
        .target(name: "WAStoreRemote", dependencies: [
            "WACore", "WACoordination", "WAStore", "WAWire",
        ] + nio, swiftSettings: settings),
        // Wire protocols: node RPC (JSON lines over TCP), gateway frames, a small HTTP client.
        .target(name: "WAWire", dependencies: ["WACore", .product(name: "NIOHTTP1", package: "swift-nio"), .product(name: "NIOFoundationCompat", package: "swift-nio"),
                                            .product(name: "AsyncAlgorithms", package: "swift-async-algorithms")] + nio,
                swiftSettings: settings),
        // The simulated WhatsApp server.
        .target(name: "WAGateway", dependencies: ["WACore", "WAWire"] + nio, swiftSettings: settings),
        // Node shells: master, coreapp, the db node, dbupgrade; configuration from the environment.
        .target(name: "WANodes", dependencies: [
            "WACore", "WACoordination", "WAStore", "WAStoreSQLite", "WAStorePostgres", "WAStoreRemote", "WAWire",
            .product(name: "Logging", package: "swift-log"),
            .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            .product(name: "AsyncHTTPClient", package: "async-http-client"),
            .product(name: "NIOSSL", package: "swift-nio-ssl"),
        ] + nio, swiftSettings: settings),
        // The REST API (Hummingbird) and health aggregation.
        .target(name: "WAWebapp", dependencies: [
            "WACore", "WAStore", "WAWire", "WANodes",
            .product(name: "Hummingbird", package: "hummingbird"),
            .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            .product(name: "HTTPTypes", package: "swift-http-types"),
            .product(name: "NIOHTTPTypes", package: "swift-nio-extras"),
            .product(name: "Metrics", package: "swift-metrics"),
            .product(name: "Prometheus", package: "swift-prometheus"),
        ], resources: [.copy("Resources/openapi.json")], swiftSettings: settings),
        .executableTarget(name: "wacluster", dependencies: [
            "WACore", "WAStore", "WANodes", "WAWebapp", "WAGateway",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
            .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
        ], swiftSettings: settings),

        // Chaos runner building blocks.
        // fork/exec with PR_SET_PDEATHSIG and a process group: what posix_spawn cannot do.
        .target(name: "CProcessShim", path: "Sources/CProcessShim"),
        .target(name: "ProcessSupervisor", dependencies: ["CProcessShim"], swiftSettings: settings),
        .target(name: "LinkProxy", dependencies: ["WACore"] + nio, swiftSettings: settings),
        // libcap: the runner's effective capabilities, read before it touches the kernel.
        .systemLibrary(name: "CLibCap", path: "Sources/CLibCap", pkgConfig: "libcap", providers: [.apt(["libcap-dev"])]),
        // Hosts in network namespaces: run ids, addresses, the kernel rules of link faults
        // (nftables, tc) rendered from a model, the fabric that applies them, and the janitor.
        .target(name: "NetHosts", dependencies: ["WACore", "CLibCap", "CProcessShim", "ProcessSupervisor"], swiftSettings: settings),
        .target(name: "ChaosScenario", dependencies: ["WACore", .product(name: "Yams", package: "Yams")],
                swiftSettings: settings),
        // Shared by tests and the runner: launching a cluster of real processes and talking to it.
        .target(name: "ChaosCheckers", dependencies: ["WACore"], swiftSettings: settings),
        .target(name: "WATestKit", dependencies: ["WACore", "WAWire", "ProcessSupervisor", "ChaosCheckers",
                                             .product(name: "NIOHTTP1", package: "swift-nio")] + nio, swiftSettings: settings),
        // The node shells in-process, for tests: a manual clock, a temporary SQLite store, fake peers and webhooks.
        .target(name: "ShellTestKit", dependencies: ["WACore", "WANodes", "WAStore", "WAStoreSQLite", "WAWire",
                                                  .product(name: "Logging", package: "swift-log")], swiftSettings: settings),
        // Keep-alive HTTP load for the benchmarks.
        .target(name: "LoadGenerator", dependencies: [.product(name: "NIOHTTP1", package: "swift-nio"),
                                                   .product(name: "Histogram", package: "hdrhistogram-swift")] + nio, swiftSettings: settings),
        .target(name: "WAChaos", dependencies: [
            "WACore", "WAWire", "WATestKit", "ProcessSupervisor", "LinkProxy", "NetHosts", "ChaosScenario", "ChaosCheckers", "LoadGenerator", "WAStorePostgres",
            "WAStore", "WAStoreSQLite", .product(name: "Hummingbird", package: "hummingbird"),
        ] + nio, swiftSettings: settings),
        .executableTarget(name: "wachaos", dependencies: [
            "WAChaos", "NetHosts", "ChaosCheckers", "ChaosScenario", "WACore", "ProcessSupervisor", .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ], swiftSettings: settings),

        .testTarget(name: "ChaosCheckersTests", dependencies: ["ChaosCheckers", "WACore"], swiftSettings: settings),
        .testTarget(name: "WACoreTests", dependencies: ["WACore"], swiftSettings: settings),
        .testTarget(name: "WACoordinationTests", dependencies: ["WACoordination"], swiftSettings: settings),
        .testTarget(name: "WAStoreTests", dependencies: ["WAStore", "WAStoreSQLite", "WAStorePostgres", "WAStoreRemote", "WAWire",
                                                     "WATestKit"] + nio, swiftSettings: settings),
        .testTarget(name: "WAWireTests", dependencies: ["WAWire", "WACore", .product(name: "NIOEmbedded", package: "swift-nio")] + nio,
                    swiftSettings: settings),
        .testTarget(name: "WAGatewayTests", dependencies: ["WAGateway", "WAWire"], swiftSettings: settings),
        // The node shells in-process: a manual clock, a temporary store, fake peers and webhooks.
        .testTarget(name: "WANodesTests", dependencies: ["WANodes", "ShellTestKit", "WACore", "WAStore", "WAWire", "WAGateway",
                                                     .product(name: "NIOSSL", package: "swift-nio-ssl"),
                                                     .product(name: "NIOHTTP1", package: "swift-nio")] + nio, swiftSettings: settings),
        // The REST API through Hummingbird's test client on `buildWebapp`, over an in-process shell.
        .testTarget(name: "WAWebappTests", dependencies: ["WAWebapp", "ShellTestKit", "WANodes", "WACore", "WAStore", "WAWire",
                                                      .product(name: "Hummingbird", package: "hummingbird"),
                                                      .product(name: "HummingbirdTesting", package: "hummingbird")], swiftSettings: settings),
        .testTarget(name: "WAStorePostgresTests", dependencies: ["WAStorePostgres"], swiftSettings: settings),
        .testTarget(name: "ClusterIntegrationTests", dependencies: ["WATestKit", "WAWire", "WAStore", "WAStoreRemote", "ProcessSupervisor", "WAChaos", "wacluster"] + nio,
                    swiftSettings: settings),
        .testTarget(name: "ProcessSupervisorTests", dependencies: ["ProcessSupervisor", "WACore"], swiftSettings: settings),
        .testTarget(name: "NetHostsTests", dependencies: ["NetHosts", "WACore"], swiftSettings: settings),
        .testTarget(name: "LinkProxyTests", dependencies: ["LinkProxy", "WACore"] + nio, swiftSettings: settings),
        .testTarget(name: "ChaosScenarioTests", dependencies: ["ChaosScenario", "WACore"], swiftSettings: settings),
        .testTarget(name: "LoadGeneratorTests", dependencies: ["LoadGenerator", "WACore", .product(name: "NIOHTTP1", package: "swift-nio")] + nio,
                    swiftSettings: settings),
        .testTarget(name: "WAChaosTests", dependencies: ["WAChaos", "NetHosts", "ChaosCheckers", "ChaosScenario", "WACore", "WATestKit", "wachaos", "wacluster",
                                                     .product(name: "Hummingbird", package: "hummingbird"),
                                                     .product(name: "HummingbirdTesting", package: "hummingbird")], swiftSettings: settings),
    ]
)
