// swift-tools-version:6.1
import PackageDescription

// libFuzzer harnesses for swift-kube-proxy: one executable holding every target, chosen with
// FUZZ_TARGET, so the whole package is built (with -sanitize=fuzzer) and linked once.
// Build and run through the Makefile (`make fuzz`, `make fuzz-smoke`); see README "Fuzzing".
let package = Package(
    name: "swift-kube-proxy-fuzz",
    platforms: [.macOS(.v15)],
    dependencies: [
        .package(name: "swift-kube-proxy", path: ".."),
        .package(url: "https://github.com/apple/swift-collections", from: "1.6.0"),
    ],
    targets: [
        .executableTarget(
            name: "kube-proxy-fuzz",
            dependencies: [
                "CFuzzDriver",
                .product(name: "SwiftKubeProxyKit", package: "swift-kube-proxy"),
                .product(name: "HashTreeCollections", package: "swift-collections"),
            ],
            swiftSettings: [.unsafeFlags(["-parse-as-library"])]
        ),
        // The declaration of libFuzzer's LLVMFuzzerRunDriver, which the harness's main calls.
        .target(name: "CFuzzDriver"),
    ],
    swiftLanguageModes: [.v6]
)
