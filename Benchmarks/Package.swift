// swift-tools-version:6.1
import PackageDescription

// Benchmarks live in their own package so that the main package's `make test` never builds
// package-benchmark and its dependencies.
// A path dependency is known by its folder's name (wt-proxy, main, a CI clone…), not by its
// manifest name, so derive it.
let mainPackage = String(Context.packageDirectory.split(separator: "/").dropLast().last ?? "swift-kube-proxy").lowercased()

let package = Package(
    name: "swift-kube-proxy-benchmarks",
    platforms: [.macOS(.v15)],
    dependencies: [
        .package(path: ".."),
        .package(url: "https://github.com/ordo-one/benchmark", from: "1.38.1", traits: ["MallocInterposer"]),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
    ],
    targets: [
        .target(
            name: "KubernetesSourceWorkload",
            dependencies: [.product(name: "SwiftKubeProxyKit", package: mainPackage)],
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
        .executableTarget(
            name: "UserspaceProxyBenchmarks",
            dependencies: [
                .product(name: "Benchmark", package: "benchmark"),
                .product(name: "SwiftKubeProxyKit", package: mainPackage),
                .product(name: "Logging", package: "swift-log"),
            ],
            path: "Benchmarks/UserspaceProxyBenchmarks",
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
        ),
        .executableTarget(
            name: "ModelBenchmarks",
            dependencies: [
                .product(name: "Benchmark", package: "benchmark"),
                .product(name: "SwiftKubeProxyKit", package: mainPackage),
            ],
            path: "Benchmarks/ModelBenchmarks",
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
        ),
        // The l4bench proxy command: one TCP rule on 127.0.0.1 (see l4bench/compare.sh).
        .executableTarget(
            name: "l4proxy",
            dependencies: [
                .product(name: "SwiftKubeProxyKit", package: mainPackage),
                .product(name: "Logging", package: "swift-log"),
            ],
            path: "Sources/l4proxy"
        ),
        // The nftables backend at 1k/10k Services in a fresh network namespace (run as root).
        .executableTarget(
            name: "nft-sync-bench",
            dependencies: [.product(name: "SwiftKubeProxyKit", package: mainPackage)],
            path: "Sources/nft-sync-bench"
        ),
    ],
    swiftLanguageModes: [.v6]
)
