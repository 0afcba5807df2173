/// The one place the runner and the test kit wait in *real* time: client-side polling and
/// pacing (health probes, message streams). The cluster's own intervals run on its
/// `ClusterClock` and the time scale; a client's poll interval is real by definition.
public enum Polling {
    public static func pause(seconds: Double) async throws {
        try await Task.sleep(for: .nanoseconds(Int64(max(0, seconds) * 1e9)), clock: ContinuousClock())
    }
}
