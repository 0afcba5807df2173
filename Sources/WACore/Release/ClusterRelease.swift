/// Which release of the cluster this binary is. Every node reports it (`/v1/support`, the node
/// events, the nodes table), so a mixed-version cluster says which node runs what.
public enum ClusterRelease {
    /// The release, as `WA_API_VERSION` names the product's releases (with our suffix).
    public static let version = "2.55.0-replica"
}
