// swift-tools-version:6.1
import PackageDescription

// Targets mirror the flow in DESIGN.md: sources -> model -> sync -> dataplanes.
let package = Package(
    name: "swift-kube-proxy",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "swift-kube-proxy", targets: ["swift-kube-proxy"]),
        .library(name: "SwiftKubeProxyKit", targets: ["UserspaceProxy", "ProxyModel", "KubernetesAPI", "KubernetesSource", "RuleSync", "NFTables", "FileSource", "ProxyDaemon"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
        .package(url: "https://github.com/apple/swift-collections", from: "1.6.0"),
        .package(url: "https://github.com/swift-server/async-http-client", from: "1.37.0"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-nio-ssl", from: "2.37.6"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
    ],
    targets: [
        .systemLibrary(
            name: "CNetfilter",
            pkgConfig: "libnftnl",
            providers: [.apt(["libnftnl-dev", "libmnl-dev"])]
        ),
        .target(
            name: "ProxyModel",
            dependencies: [.product(name: "HashTreeCollections", package: "swift-collections")]
        ),
        .target(name: "KubernetesAPI", dependencies: ["ProxyModel"]),
        // Commands run through pipes with a deadline (iptables-restore, conntrack, exec credential plugins).
        .target(name: "ChildProcess"),
        .target(
            name: "KubernetesSource",
            dependencies: [
                "ProxyModel", "KubernetesAPI", "ChildProcess",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOFoundationCompat", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Yams", package: "Yams"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
            ]
        ),
        .target(
            name: "FileSource",
            dependencies: [
                "ProxyModel", "KubernetesAPI",
                .product(name: "Yams", package: "Yams"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // epoll, eventfd, splice, accept4, IP_PKTINFO datagrams: what Swift's Glibc module leaves out (header only).
        .systemLibrary(name: "CLinuxSyscalls"),
        .target(
            name: "UserspaceProxy",
            dependencies: ["CLinuxSyscalls", .product(name: "Logging", package: "swift-log")]
        ),
        .target(name: "NFTables", dependencies: ["CNetfilter"]),
        // libmnl + ctnetlink headers, in the include order glibc needs (see its shim.h).
        .systemLibrary(name: "CConntrack"),
        .target(name: "Conntrack", dependencies: ["CConntrack", "ProxyModel"]),
        .target(
            name: "RuleSync",
            dependencies: ["ProxyModel", "NFTables", "ChildProcess", .product(name: "Logging", package: "swift-log")]
        ),
        .target(
            name: "ProxyDaemon",
            dependencies: [
                "ProxyModel", "FileSource", "KubernetesSource", "UserspaceProxy", "RuleSync", "NFTables", "Conntrack",
                .product(name: "Yams", package: "Yams"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                // The `status` command's GET (already built for the Kubernetes source).
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ]
        ),
        .executableTarget(
            name: "swift-kube-proxy",
            dependencies: [
                "ProxyDaemon",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            plugins: ["GitCommit"]
        ),
        // `--version`'s commit: `git rev-parse` before each build, "unknown" outside a checkout.
        .plugin(name: "GitCommit", capability: .buildTool()),
        .testTarget(name: "ProxyModelTests", dependencies: ["ProxyModel"]),
        .testTarget(name: "ChildProcessTests", dependencies: ["ChildProcess"]),
        .testTarget(name: "KubernetesAPITests", dependencies: ["KubernetesAPI"]),
        .testTarget(
            name: "KubernetesSourceTests",
            dependencies: [
                "KubernetesSource", "KubernetesAPI", "ProxyModel", "EndToEndSupport",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
            ],
            resources: [.copy("Fixtures")]
        ),
        .testTarget(name: "FileSourceTests", dependencies: ["FileSource"]),
        .testTarget(name: "UserspaceProxyTests", dependencies: ["UserspaceProxy"]),
        .testTarget(name: "NFTablesTests", dependencies: ["NFTables"]),
        // Backend-agnostic real-packet scenarios (network namespaces), shared by the rule backends' tests.
        .target(name: "DataplaneScenarios", dependencies: ["ProxyModel"], path: "Tests/DataplaneScenarios"),
        .testTarget(name: "RuleSyncTests", dependencies: ["RuleSync", "DataplaneScenarios"]),
        // ProxyDaemon too: one test drives the cleanup through the sync runner, as the daemon does.
        .testTarget(name: "ConntrackTests", dependencies: ["Conntrack", "ProxyDaemon"]),
        .testTarget(name: "ProxyDaemonTests", dependencies: ["ProxyDaemon", "EndToEndSupport"]),
        // Launching the real binary and talking to it over loopback, for every end-to-end test.
        .target(name: "EndToEndSupport", path: "Tests/EndToEndSupport"),
        .testTarget(name: "EndToEndTests", dependencies: ["ProxyDaemon", "DataplaneScenarios", "EndToEndSupport"]),
    ],
    swiftLanguageModes: [.v6]
)
