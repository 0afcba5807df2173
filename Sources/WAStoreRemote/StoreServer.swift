import WAStore
import WAWire

/// What the db node answers on its port: every storage request, carried out on its own store.
public enum StoreServer {
    public static func routes(serving store: any ClusterStore) -> RPCRoutes {
        var routes = RPCRoutes()
        routes.on(StoreCall.self) { request in await request.perform(on: store) }
        return routes
    }
}
