import CFuzzDriver
import Foundation

/// The fuzz targets, chosen by the environment variable FUZZ_TARGET (libFuzzer owns argv).
enum FuzzTarget: String, CaseIterable {
    case manifests, kubernetes, config, kubeconfig, render

    var run: ([UInt8]) -> Void {
        switch self {
        case .manifests: return ManifestsTarget.run
        case .kubernetes: return KubernetesTarget.run
        case .config: return ConfigTarget.run
        case .kubeconfig: return KubeconfigTarget.run
        case .render: return RenderTarget.run
        }
    }
}

let selected: FuzzTarget = {
    let name = ProcessInfo.processInfo.environment["FUZZ_TARGET"] ?? ""
    guard let target = FuzzTarget(rawValue: name) else {
        let names = FuzzTarget.allCases.map(\.rawValue).joined(separator: ", ")
        FileHandle.standardError.write(Data("set FUZZ_TARGET to one of: \(names)\n".utf8))
        exit(2)
    }
    return target
}()

@main
struct FuzzMain {
    static func main() {
        _ = selected
        var argc = CommandLine.argc
        var argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = CommandLine.unsafeArgv
        exit(LLVMFuzzerRunDriver(&argc, &argv) { data, size in fuzzerTestOneInput(data, size) })
    }
}

@_cdecl("LLVMFuzzerInitialize")
public func fuzzerInitialize(_ argc: UnsafeMutablePointer<Int32>, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>) -> Int32 {
    _ = selected
    return 0
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzerTestOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    let bytes = data.map { Array(UnsafeBufferPointer(start: $0, count: size)) } ?? []
    selected.run(bytes)
    return 0
}
