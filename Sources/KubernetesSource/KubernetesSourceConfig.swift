import Foundation
import Metrics

/// How the Kubernetes source connects and what it watches.
public struct KubernetesSourceConfig: Sendable {
    /// Which object carries the endpoints (`endpointsSource`).
    public enum EndpointsSource: String, Sendable, CaseIterable {
        /// `discovery.k8s.io/v1` EndpointSlices, else `v1beta1`, else `v1/Endpoints`.
        case endpointSlices = "endpointslices"
        /// `v1/Endpoints` only.
        case endpoints
    }

    /// `--kubeconfig` / the `kubeconfig` key; nil means `KUBECONFIG`, else in-cluster.
    public var kubeconfigPath: String?
    /// The kubeconfig context to use; nil means `current-context`.
    public var context: String?
    /// Our Node's name (`hostnameOverride`, default the hostname).
    public var nodeName: String
    /// Our `service.kubernetes.io/service-proxy-name`; nil proxies only unlabelled Services.
    public var proxyName: String?
    public var endpointsSource: EndpointsSource
    public var reflector: ReflectorSettings
    /// Where `KUBECONFIG` and `KUBERNETES_SERVICE_HOST`/`_PORT` are read from.
    public var environment: [String: String]
    public var serviceAccountDirectory: String
    /// Makes the source's counters; nil means `MetricsSystem.factory` at the time `run()` starts.
    public var metricsFactory: (any MetricsFactory)?

    public init(
        kubeconfigPath: String? = nil, context: String? = nil, nodeName: String = KubernetesSourceConfig.hostname(),
        proxyName: String? = nil, endpointsSource: EndpointsSource = .endpointSlices,
        reflector: ReflectorSettings = ReflectorSettings(),
        environment: [String: String] = ProcessInfo.processInfo.environment,
        serviceAccountDirectory: String = ClusterConnection.defaultServiceAccountDirectory,
        metricsFactory: (any MetricsFactory)? = nil
    ) {
        self.kubeconfigPath = kubeconfigPath
        self.context = context
        self.nodeName = nodeName
        self.proxyName = proxyName
        self.endpointsSource = endpointsSource
        self.reflector = reflector
        self.environment = environment
        self.serviceAccountDirectory = serviceAccountDirectory
        self.metricsFactory = metricsFactory
    }

    /// Server-side watch timeout (`timeoutSeconds`).
    public var watchTimeout: Duration {
        get { reflector.watchTimeout }
        set { reflector.watchTimeout = newValue }
    }

    /// The node name kube-proxy uses by default: the hostname, lowercased.
    public static func hostname() -> String {
        ProcessInfo.processInfo.hostName.lowercased()
    }
}
