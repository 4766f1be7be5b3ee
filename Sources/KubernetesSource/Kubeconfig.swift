import Foundation
import Yams

/// A kubeconfig file (or several, merged as `KUBECONFIG=a:b` is: for each named entry and for
/// `current-context` the first file that has one wins). Only what a client needs is read.
struct Kubeconfig {
    struct File: Decodable {
        var clusters: [Named<Cluster>]?
        var users: [Named<User>]?
        var contexts: [Named<Context>]?
        var currentContext: String?

        enum CodingKeys: String, CodingKey {
            case clusters, users, contexts
            case currentContext = "current-context"
        }
    }

    struct Named<Entry: Decodable>: Decodable {
        var name: String
        var entry: Entry?

        enum CodingKeys: String, CodingKey { case name, cluster, user, context }

        init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            name = try c.decode(String.self, forKey: .name)
            entry = try c.decodeIfPresent(Entry.self, forKey: .cluster)
                ?? c.decodeIfPresent(Entry.self, forKey: .user)
                ?? c.decodeIfPresent(Entry.self, forKey: .context)
        }
    }

    struct Cluster: Decodable {
        var server: String?
        var certificateAuthority: String?
        var certificateAuthorityData: String?
        var insecureSkipTLSVerify: Bool?

        enum CodingKeys: String, CodingKey {
            case server
            case certificateAuthority = "certificate-authority"
            case certificateAuthorityData = "certificate-authority-data"
            case insecureSkipTLSVerify = "insecure-skip-tls-verify"
        }
    }

    struct User: Decodable {
        var token: String?
        var tokenFile: String?
        var clientCertificate: String?
        var clientCertificateData: String?
        var clientKey: String?
        var clientKeyData: String?
        var exec: Exec?

        enum CodingKeys: String, CodingKey {
            case token, tokenFile, exec
            case clientCertificate = "client-certificate"
            case clientCertificateData = "client-certificate-data"
            case clientKey = "client-key"
            case clientKeyData = "client-key-data"
        }
    }

    struct Exec: Decodable {
        struct Variable: Decodable { var name: String; var value: String }
        var apiVersion: String?
        var command: String?
        var args: [String]?
        var env: [Variable]?
    }

    struct Context: Decodable {
        var cluster: String?
        var user: String?
        var namespace: String?
    }

    /// An entry and the directory of the file it came from (relative paths are relative to it).
    struct Located<Entry> {
        var entry: Entry
        var directory: String
    }

    var clusters: [String: Located<Cluster>] = [:]
    var users: [String: Located<User>] = [:]
    var contexts: [String: Context] = [:]
    var currentContext: String?
    var origin: String

    static func load(paths: [String], origin: String) throws(ConnectionConfigError) -> Kubeconfig {
        var config = Kubeconfig(origin: origin)
        var readAny = false
        for path in paths {
            guard let data = FileManager.default.contents(atPath: path) else {
                // KUBECONFIG may name files that do not exist; only an explicit single path must.
                if paths.count == 1 { throw ConnectionConfigError("kubeconfig \(path) does not exist or cannot be read") }
                continue
            }
            readAny = true
            let file: File
            do {
                file = try YAMLDecoder().decode(File.self, from: String(decoding: data, as: UTF8.self))
            } catch {
                throw ConnectionConfigError("kubeconfig \(path) is not valid: \(error)")
            }
            let directory = (path as NSString).deletingLastPathComponent
            for c in file.clusters ?? [] where config.clusters[c.name] == nil {
                config.clusters[c.name] = Located(entry: c.entry ?? Cluster(), directory: directory)
            }
            for u in file.users ?? [] where config.users[u.name] == nil {
                config.users[u.name] = Located(entry: u.entry ?? User(), directory: directory)
            }
            for c in file.contexts ?? [] where config.contexts[c.name] == nil {
                config.contexts[c.name] = c.entry ?? Context()
            }
            if config.currentContext == nil, let current = file.currentContext, !current.isEmpty {
                config.currentContext = current
            }
        }
        guard readAny else { throw ConnectionConfigError("none of the kubeconfig files in \(origin) exists") }
        return config
    }

    /// The connection of the named context, or of `current-context`.
    func connection(context requested: String?) throws(ConnectionConfigError) -> ClusterConnection {
        guard let contextName = requested ?? currentContext else {
            throw ConnectionConfigError("\(origin): no context was given and current-context is not set")
        }
        guard let context = contexts[contextName] else {
            throw ConnectionConfigError("\(origin): context \"\(contextName)\" is not defined (defined: \(contexts.keys.sorted().joined(separator: ", ")))")
        }
        guard let clusterName = context.cluster, let cluster = clusters[clusterName] else {
            throw ConnectionConfigError("\(origin): context \"\(contextName)\" names cluster \"\(context.cluster ?? "")\", which is not defined")
        }
        let where_ = "\(origin), cluster \"\(clusterName)\""
        guard let server = cluster.entry.server, !server.isEmpty else {
            throw ConnectionConfigError("\(where_): server is not set")
        }
        guard server.hasPrefix("https://") || server.hasPrefix("http://") else {
            throw ConnectionConfigError("\(where_): server \"\(server)\" is not an http(s) URL")
        }
        let ca = try Self.bytes(data: cluster.entry.certificateAuthorityData, file: cluster.entry.certificateAuthority,
                                directory: cluster.directory, what: "certificate-authority", where: where_)

        var token: TokenSource?
        var certificate: ClientCertificate?
        var exec: ExecCredentialPlugin.Config?
        if let userName = context.user, !userName.isEmpty {
            guard let user = users[userName] else {
                throw ConnectionConfigError("\(origin): context \"\(contextName)\" names user \"\(userName)\", which is not defined")
            }
            let whereUser = "\(origin), user \"\(userName)\""
            if let inline = user.entry.token, !inline.isEmpty {
                token = .inline(inline)
            } else if let file = user.entry.tokenFile, !file.isEmpty {
                let path = Self.absolute(file, in: user.directory)
                guard FileManager.default.isReadableFile(atPath: path) else {
                    throw ConnectionConfigError("\(whereUser): tokenFile \(path) does not exist or cannot be read")
                }
                token = .file(path)
            }
            let cert = try Self.bytes(data: user.entry.clientCertificateData, file: user.entry.clientCertificate,
                                      directory: user.directory, what: "client-certificate", where: whereUser)
            let key = try Self.bytes(data: user.entry.clientKeyData, file: user.entry.clientKey,
                                     directory: user.directory, what: "client-key", where: whereUser)
            switch (cert, key) {
            case let (cert?, key?): certificate = ClientCertificate(certificatePEM: cert, privateKeyPEM: key)
            case (_?, nil): throw ConnectionConfigError("\(whereUser): client-certificate is set but client-key is not")
            case (nil, _?): throw ConnectionConfigError("\(whereUser): client-key is set but client-certificate is not")
            case (nil, nil): break
            }
            if let e = user.entry.exec {
                guard let command = e.command, !command.isEmpty else {
                    throw ConnectionConfigError("\(whereUser): exec.command is not set")
                }
                guard let apiVersion = e.apiVersion, apiVersion.hasPrefix("client.authentication.k8s.io/") else {
                    throw ConnectionConfigError("\(whereUser): exec.apiVersion \"\(e.apiVersion ?? "")\" is not a client.authentication.k8s.io version")
                }
                exec = ExecCredentialPlugin.Config(
                    command: command.contains("/") ? Self.absolute(command, in: user.directory) : command,
                    arguments: e.args ?? [], environment: (e.env ?? []).map { ($0.name, $0.value) },
                    apiVersion: apiVersion)
            }
        }
        return ClusterConnection(
            server: server, certificateAuthorityPEM: ca, insecureSkipTLSVerify: cluster.entry.insecureSkipTLSVerify ?? false,
            token: token, clientCertificate: certificate, exec: exec, origin: "\(origin), context \(contextName)")
    }

    /// `*-data` (base64) wins over the file, as in client-go.
    private static func bytes(data: String?, file: String?, directory: String, what: String, where place: String) throws(ConnectionConfigError) -> [UInt8]? {
        if let data, !data.isEmpty {
            guard let decoded = Data(base64Encoded: data, options: .ignoreUnknownCharacters) else {
                throw ConnectionConfigError("\(place): \(what)-data is not base64")
            }
            return Array(decoded)
        }
        guard let file, !file.isEmpty else { return nil }
        let path = absolute(file, in: directory)
        guard let contents = FileManager.default.contents(atPath: path) else {
            throw ConnectionConfigError("\(place): \(what) \(path) does not exist or cannot be read")
        }
        return Array(contents)
    }

    private static func absolute(_ path: String, in directory: String) -> String {
        if path.hasPrefix("/") || directory.isEmpty { return path }
        return directory + "/" + path
    }
}
