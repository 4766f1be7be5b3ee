extension ProxyDaemon {
    /// Printed by `--version`.
    public static let version = "0.1.0"
}
