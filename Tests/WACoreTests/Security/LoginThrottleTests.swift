import Testing
@testable import WACore

/// The login throttle with a hand-driven clock (`now` is passed in).
@Suite("Login throttle")
struct LoginThrottleTests {
    @Test func theFirstFailuresAreFreeThenTheWaitDoublesUpToTheCap() {
        var t = LoginThrottle()
        for i in 0..<5 {
            #expect(t.wait(user: "admin", source: "10.0.0.9", now: Double(i)) == nil)
            t.failed(user: "admin", source: "10.0.0.9", now: Double(i))
        }
        // Five failures at t=4: the sixth attempt waits 1 s, then 2, 4, … up to 60.
        #expect(t.wait(user: "admin", source: "10.0.0.9", now: 4.5) == 0.5)
        #expect(t.wait(user: "admin", source: "10.0.0.9", now: 5.0) == nil)
        var now = 5.0
        var last = 0.0
        for _ in 0..<12 {
            t.failed(user: "admin", source: "10.0.0.9", now: now)
            let w = t.wait(user: "admin", source: "10.0.0.9", now: now) ?? 0
            #expect(w >= last && w <= 60)
            last = w
            now += w
        }
        #expect(last == 60, "the back-off is capped: never a permanent lockout")
    }

    @Test func anAttackerElsewhereCannotLockTheAdminOut() {
        var t = LoginThrottle()
        for i in 0..<200 { t.failed(user: "admin", source: "203.0.113.7", now: Double(i) * 0.01) }
        #expect(t.wait(user: "admin", source: "203.0.113.7", now: 2) != nil)
        #expect(t.wait(user: "ADMIN", source: "203.0.113.7", now: 2) != nil, "usernames are folded")
        #expect(t.wait(user: "admin", source: "10.0.0.2", now: 2) == nil, "the admin's own address is not throttled")
    }

    @Test func sprayingManyUsernamesFromOneSourceIsThrottledToo() {
        var t = LoginThrottle()
        for i in 0..<20 { t.failed(user: "user\(i)", source: "198.51.100.1", now: 0) }
        #expect(t.wait(user: "someone-new", source: "198.51.100.1", now: 0.1) != nil)
        #expect(t.wait(user: "someone-new", source: "198.51.100.2", now: 0.1) == nil)
    }

    @Test func successClearsThePairAndOldFailuresAreForgotten() {
        var t = LoginThrottle()
        for _ in 0..<6 { t.failed(user: "ops", source: "a", now: 0) }
        #expect(t.wait(user: "ops", source: "a", now: 0.5) != nil)
        t.succeeded(user: "ops", source: "a")
        #expect(t.wait(user: "ops", source: "a", now: 0.5) == nil)
        for _ in 0..<6 { t.failed(user: "ops", source: "b", now: 0) }
        #expect(t.wait(user: "ops", source: "b", now: 901) == nil)
    }

    @Test func memoryIsBounded() {
        var policy = LoginThrottle.Policy()
        policy.capacity = 100
        var t = LoginThrottle(policy: policy)
        for i in 0..<10_000 { t.failed(user: "u\(i)", source: "s\(i)", now: Double(i)) }
        #expect(t.trackedKeys <= 102)
    }
}
