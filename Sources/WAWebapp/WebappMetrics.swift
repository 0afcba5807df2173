import Metrics
import Prometheus

/// The webapp's metrics: swift-metrics is the process's metrics API (Hummingbird's
/// `MetricsMiddleware` counts and times every request by its route), swift-prometheus renders
/// it for `GET /metrics`. Hummingbird's names are mapped to the ones this product has always
/// exposed: `wa_http_requests_total` and `wa_http_request_duration_seconds` by route, method
/// and status.
public enum WebappMetrics {
    /// What `/metrics` renders.
    public static let registry = PrometheusCollectorRegistry()

    private static let names: [String: String] = [
        "hb.requests": "wa_http_requests_total",
        "http.server.request.duration": "wa_http_request_duration_seconds",
        "hb.request.errors": "wa_http_request_errors_total",
        "http.server.active_requests": "wa_http_requests_active",
    ]
    private static let labels: [String: String] = [
        "http.route": "route", "http.request.method": "method", "http.response.status_code": "status", "error.type": "status",
    ]

    private static let bootstrapped: Void = {
        var factory = PrometheusMetricsFactory(registry: registry)
        factory.defaultDurationHistogramBuckets = [.milliseconds(1), .microseconds(2500), .milliseconds(5), .milliseconds(10), .milliseconds(25),
                                                   .milliseconds(50), .milliseconds(100), .milliseconds(250), .milliseconds(500),
                                                   .seconds(1), .milliseconds(2500), .seconds(5)]
        factory.nameAndLabelSanitizer = { name, dimensions in
            (names[name] ?? name.replacingOccurrences(of: ".", with: "_"), dimensions.map { (labels[$0.0] ?? $0.0, $0.1) })
        }
        MetricsSystem.bootstrap(factory)
    }()

    /// Makes `registry` the process's metrics backend; once per process, whoever asks first.
    public static func bootstrap() { _ = bootstrapped }
}
