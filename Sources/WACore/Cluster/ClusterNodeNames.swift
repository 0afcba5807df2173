/// The names a cluster's nodes go by, and their natural order: the product's default hostnames,
/// the test kit's processes and the runner's selectors all spell them from here.
public enum ClusterNodeNames {
    /// The database node: `wacluster db` for the embedded engine, or the PostgreSQL server.
    public static let database = "db"
    /// The simulated WhatsApp server.
    public static let gateway = "gateway"
    /// The stems numbered nodes are named after, and a lone node's default hostname.
    public static let webappStem = "waweb", masterStem = "master", coreappStem = "wacore"

    /// Webapp names: `waweb` when there is one, `waweb1..N` otherwise.
    public static func webapps(count: Int) -> [String] {
        count == 1 ? [webappStem] : numbered(webappStem, count: count)
    }

    /// Master names: `master1..N`.
    public static func masters(count: Int) -> [String] { numbered(masterStem, count: count) }

    /// Coreapp names: `wacore1..N`.
    public static func coreapps(count: Int) -> [String] { numbered(coreappStem, count: count) }

    /// Natural order, digit runs compared as numbers: `wacore2` before `wacore10`. "Lowest-named"
    /// (the coreapp a master promotes first, the node a selector picks) means first in this order.
    public static func naturallyPrecedes(_ a: String, _ b: String) -> Bool {
        let x = chunks(a), y = chunks(b)
        for (p, q) in zip(x, y) where p != q {
            if let m = Int(p), let n = Int(q) { return m != n ? m < n : p < q }
            return p < q
        }
        return x.count < y.count
    }

    private static func numbered(_ stem: String, count: Int) -> [String] {
        count < 1 ? [] : (1...count).map { "\(stem)\($0)" }
    }

    /// `wacore12a` → `["wacore", "12", "a"]`: runs of digits and of everything else.
    private static func chunks(_ s: String) -> [String] {
        var out: [String] = []
        var current = ""
        for ch in s {
            if let last = current.last, (last.isASCII && last.isNumber) != (ch.isASCII && ch.isNumber) { out.append(current); current = "" }
            current.append(ch)
        }
        if !current.isEmpty { out.append(current) }
        return out
    }
}
