import ArgumentParser
import Foundation
import Logging
import ProxyDaemon

@main
struct SwiftKubeProxy: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "swift-kube-proxy",
        abstract: "A node-level Service proxy and load balancer that replaces kube-proxy.",
        version: ProxyDaemon.version)

    @Option(help: "The config file (YAML). See config.example.yaml.")
    var config: String

    @Option(help: "Log level: trace, debug, info, notice, warning, error, critical.")
    var logLevel: Logger.Level = .info

    func run() async throws {
        let level = logLevel
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
        let logger = Logger(label: "swift-kube-proxy")
        let proxyConfig: ProxyConfig
        do {
            proxyConfig = try ProxyConfig.load(file: config)
        } catch {
            throw ValidationError("\(error)")
        }
        try await StopSignals.runUntilStopped(logger: logger) {
            try await ProxyDaemon(config: proxyConfig, logger: logger).run()
        }
    }
}

extension Logger.Level: @retroactive ExpressibleByArgument {}
