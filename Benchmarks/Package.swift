// swift-tools-version:6.1
import PackageDescription

// Benchmarks live in their own package so that the main build never needs the benchmark plugin.
// Run with `swift package benchmark` from this directory.
let package = Package(
    name: "swift-kube-proxy-benchmarks",
    platforms: [.macOS(.v15)],
    dependencies: [
        .package(name: "swift-kube-proxy", path: ".."),
        .package(url: "https://github.com/ordo-one/benchmark", from: "1.38.1", traits: ["MallocInterposer"]),
    ],
    targets: [
        .target(
            name: "KubernetesSourceWorkload",
            dependencies: [.product(name: "SwiftKubeProxyKit", package: "swift-kube-proxy")],
            path: "Sources/KubernetesSourceWorkload"
        ),
        .executableTarget(
            name: "KubernetesSourceBenchmarks",
            dependencies: [
                "KubernetesSourceWorkload",
                .product(name: "Benchmark", package: "benchmark"),
            ],
            path: "Benchmarks/KubernetesSourceBenchmarks",
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
        ),
        // A plain executable for `/usr/bin/time -v`: one initial sync and one change, timed.
        .executableTarget(
            name: "kube-source-initial-sync",
            dependencies: ["KubernetesSourceWorkload"],
            path: "Sources/kube-source-initial-sync"
        ),
    ],
    swiftLanguageModes: [.v6]
)
