import ChildProcess
import Foundation
import KubernetesAPI
import Synchronization

/// A kubeconfig `exec` credential plugin: runs the command, reads the `ExecCredential` it prints,
/// and keeps the credential until shortly before its `expirationTimestamp` (or until the server
/// answers 401, when it is thrown away and the plugin runs again).
public final class ExecCredentialPlugin: Sendable {
    public struct Config: Sendable, Equatable {
        public var command: String
        public var arguments: [String]
        public var environment: [(String, String)]
        public var apiVersion: String

        public init(command: String, arguments: [String] = [], environment: [(String, String)] = [],
                    apiVersion: String = "client.authentication.k8s.io/v1") {
            self.command = command
            self.arguments = arguments
            self.environment = environment
            self.apiVersion = apiVersion
        }

        public static func == (a: Config, b: Config) -> Bool {
            a.command == b.command && a.arguments == b.arguments && a.apiVersion == b.apiVersion
                && a.environment.map(\.0) == b.environment.map(\.0) && a.environment.map(\.1) == b.environment.map(\.1)
        }
    }

    /// What the plugin gave us.
    public struct Credential: Sendable, Equatable {
        public var token: String?
        public var clientCertificate: ClientCertificate?
        /// Seconds since 1970; nil when the credential does not expire.
        public var expiry: Double?
    }

    /// `client.authentication.k8s.io/v1` `ExecCredential`, the plugin's output.
    struct Output: Decodable {
        struct Status: Decodable {
            var token: String?
            var clientCertificateData: String?
            var clientKeyData: String?
            var expirationTimestamp: String?
        }
        var apiVersion: String?
        var kind: String?
        var status: Status?
    }

    /// How long before expiry a credential is renewed.
    static let renewalMargin = 60.0

    let config: Config
    private let now: @Sendable () -> Double
    private struct Cache {
        var credential: Credential?
        /// The run in progress, which concurrent requests wait for instead of starting their own.
        var running: Task<Credential, any Error>?
    }
    private let cache = Mutex(Cache())

    public init(config: Config, now: @escaping @Sendable () -> Double = { Date().timeIntervalSince1970 }) {
        self.config = config
        self.now = now
    }

    /// The current credential, running the plugin when there is none or it is about to expire.
    public func credential() async throws -> Credential {
        let time = now()
        let run: Task<Credential, any Error> = cache.withLock { c in
            if let current = c.credential, current.expiry.map({ time < $0 - Self.renewalMargin }) ?? true {
                return Task { current }
            }
            if let running = c.running { return running }
            let running = Task { try self.parse(try await self.runPlugin()) }
            c.running = running
            return running
        }
        do {
            let credential = try await run.value
            cache.withLock { c in
                if c.running == run {
                    c.credential = credential
                    c.running = nil
                }
            }
            return credential
        } catch {
            cache.withLock { c in if c.running == run { c.running = nil } }
            throw error
        }
    }

    /// Forgets the credential after the server refused it (401), so the next request runs the
    /// plugin again; a credential already renewed by a concurrent request is kept.
    public func invalidate(_ refused: Credential) {
        cache.withLock { if $0.credential == refused { $0.credential = nil } }
    }

    func parse(_ output: Data) throws(ConnectionConfigError) -> Credential {
        let decoded: Output
        do { decoded = try JSONDecoder().decode(Output.self, from: output) } catch {
            throw ConnectionConfigError("exec plugin \(config.command) printed no ExecCredential JSON: \(error)")
        }
        guard decoded.kind == "ExecCredential" else {
            throw ConnectionConfigError("exec plugin \(config.command) printed kind \"\(decoded.kind ?? "")\", not ExecCredential")
        }
        if let version = decoded.apiVersion, version != config.apiVersion {
            throw ConnectionConfigError("exec plugin \(config.command) answered \(version), but the kubeconfig asks for \(config.apiVersion)")
        }
        guard let status = decoded.status else { throw ConnectionConfigError("exec plugin \(config.command): ExecCredential has no status") }
        var credential = Credential()
        if let token = status.token, !token.isEmpty { credential.token = token }
        switch (status.clientCertificateData, status.clientKeyData) {
        case let (cert?, key?) where !cert.isEmpty && !key.isEmpty:
            credential.clientCertificate = ClientCertificate(certificatePEM: Array(cert.utf8), privateKeyPEM: Array(key.utf8))
        case (nil, nil), ("", ""), (nil, ""), ("", nil): break
        default:
            throw ConnectionConfigError("exec plugin \(config.command): status has only one of clientCertificateData and clientKeyData")
        }
        guard credential.token != nil || credential.clientCertificate != nil else {
            throw ConnectionConfigError("exec plugin \(config.command): status has neither token nor clientCertificateData")
        }
        if let text = status.expirationTimestamp {
            guard let expiry = KubernetesTime.secondsSince1970(text) else {
                throw ConnectionConfigError("exec plugin \(config.command): expirationTimestamp \"\(text)\" is not RFC 3339")
            }
            credential.expiry = expiry
        }
        return credential
    }

    /// Runs the command off the cooperative pool (it blocks until the plugin exits), killed if it
    /// has not answered within `pluginTimeout` (a plugin waiting for a login prompt nobody sees).
    private func runPlugin() async throws -> Data {
        let config = self.config
        var environment = ProcessInfo.processInfo.environment
        for (name, value) in config.environment { environment[name] = value }
        environment["KUBERNETES_EXEC_INFO"] =
            #"{"apiVersion":"\#(config.apiVersion)","kind":"ExecCredential","spec":{"interactive":false}}"#
        let child = ChildProcess([config.command] + config.arguments, environment: environment, timeout: Self.pluginTimeout)
        return try await withCheckedThrowingContinuation { continuation in
            DispatchQueue.global().async {
                let outcome: ChildProcess.Outcome
                do { outcome = try child.run() } catch {
                    continuation.resume(throwing: ConnectionConfigError("exec plugin \(config.command) could not be started: \(error)"))
                    return
                }
                guard outcome.succeeded else {
                    let why = outcome.timedOut ? "did not answer within \(Self.pluginTimeout)" : "exited with status \(outcome.status)"
                    let said = outcome.stderrText.trimmingCharacters(in: .whitespacesAndNewlines).prefix(512)
                    continuation.resume(throwing: ConnectionConfigError("exec plugin \(config.command) \(why)\(said.isEmpty ? "" : ": \(said)")"))
                    return
                }
                continuation.resume(returning: outcome.stdout)
            }
        }
    }

    static let pluginTimeout = Duration.seconds(60)
}
