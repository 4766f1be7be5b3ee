import Foundation
import Glibc
import Logging

/// Applies `ConntrackSettings` to the running kernel at start-up, as kube-proxy does. A write that
/// fails (a read-only /proc/sys in an unprivileged container, no nf_conntrack module) is logged and
/// the daemon goes on: the node keeps its own values, which is what it had before.
enum ConntrackSysctls {
    static func apply(_ settings: ConntrackSettings, logger: Logger) {
        let cpus = Int(sysconf(Int32(_SC_NPROCESSORS_ONLN)))
        for write in settings.writes(cpus: max(cpus, 1), current: read) {
            do {
                try "\(write.value)\n".write(toFile: write.path, atomically: false, encoding: .utf8)
                logger.info("set conntrack sysctl", metadata: ["path": "\(write.path)", "value": "\(write.value)"])
            } catch {
                logger.warning("cannot set conntrack sysctl; the node's value stays",
                               metadata: ["path": "\(write.path)", "value": "\(write.value)", "error": "\(error)"])
            }
        }
    }

    static func read(_ path: String) -> Int? {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { return nil }
        return Int(text.trimmingCharacters(in: .whitespacesAndNewlines))
    }
}
