#!/usr/bin/env python3
"""Drives the replica with wabclient, an independent On-Premises API client from PyPI
(praekeltfoundation/python-whatsapp-business-client), through the library's own calls.

Run by chaos/compat/wabclient.yml (a `run:` step of `wachaos run`), which passes the cluster
in WACHAOS_* variables. Every call prints one line `ok|FAIL  <call>  <what came back>`; the
script exits 1 if any call failed. Nothing here works around the library: a call the replica
answers differently from the product fails.
"""
import http.server
import json
import os
import subprocess
import sys
import threading
import time
import traceback

import wabclient
from wabclient.client import Client, ConfigurationManager

env = os.environ
URL = "http://" + env["WACHAOS_WEBAPP"]
CC, NUMBER = env["WACHAOS_CC"], env["WACHAOS_PHONE_NUMBER"]
PHONE = "+" + CC + NUMBER
LOG = os.path.join(env.get("WACHAOS_RUN_DIR", "."), "compat.log")
failures = []
out = open(LOG, "w")


def say(line):
    print(line)
    out.write(line + "\n")
    out.flush()


def call(name, fn, check=lambda r: True):
    """One library call: ok when it returns and `check` holds, FAIL otherwise."""
    try:
        result = fn()
        verdict = check(result)
        if verdict is False:
            raise AssertionError("unexpected result: %r" % (result,))
        say("ok    %-34s %s" % (name, json.dumps(result, default=str)[:150]))
        return result
    except Exception as e:  # noqa: BLE001 - every failure is reported, with the answer
        body = getattr(getattr(e, "response", None), "text", "")
        say("FAIL  %-34s %s %s" % (name, e, body[:300]))
        failures.append(name)
        return None


class Hooks(http.server.BaseHTTPRequestHandler):
    """The webhook the client's application would run: statuses by message id."""
    statuses = {}
    lock = threading.Lock()

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
        with Hooks.lock:
            for s in body.get("statuses", []):
                Hooks.statuses.setdefault(s["id"], []).append(s["status"])
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


hooks = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Hooks)
threading.Thread(target=hooks.serve_forever, daemon=True).start()
HOOK_URL = "http://127.0.0.1:%d/hook" % hooks.server_address[1]

say("wabclient %s against %s" % (getattr(wabclient, "__version__", "2.3.3"), URL))
client = Client(url=URL)
config = client.config

# Login: the library keeps the token on its session; every later call uses it.
token = call("config.login", lambda: config.login(env["WACHAOS_ADMIN_USER"], env["WACHAOS_ADMIN_PASSWORD"]),
             lambda r: len(r[0]) > 20)
if token:
    client.connection.set_token(token[0])

call("config.get_settings", config.get_settings, lambda s: s["heartbeat_interval"] == 5)
# The library's usual settings: on_call_pager, pass_through, sent_status, tcp_listen_address next
# to the webhook, and the backoff delays as strings ("3000"), as the product accepts.
call("config.set_settings", lambda: config.set_settings(on_call_pager="+" + CC + "6505550999", webhook=HOOK_URL,
                                                        sent_status=True, callback_backoff_delay_ms=2000))
call("config.get_settings (again)", config.get_settings,
     lambda s: s["callback_backoff_delay_ms"] == 2000 and s["sent_status"] is True and s["webhooks"]["url"] == HOOK_URL
     and s["on_call_pager"] == CC + "6505550999" and s["tcp_listen_address"] == "any")

# Registration: a code by SMS (read from the simulated WhatsApp server), then verify.
call("config.request_code", lambda: config.request_code(PHONE, env["WACHAOS_CERT"]))
code = subprocess.run([env["WACHAOS_WACLUSTER"], "code", "--gateway", env["WACHAOS_GATEWAY"], "--cc", CC,
                       "--phone-number", NUMBER], capture_output=True, text=True).stdout.strip()
say("      (the WhatsApp server sent code %s)" % code)
call("config.register", lambda: config.register(code))
call("config.create_user", lambda: config.create_user("compat-user", "Compat-Pass-1!"))
# Within 7 days of registration the shard change needs no cert (seed 003).
call("config.setup_shards (no cert)", lambda: config.setup_shards(PHONE, 2))


def healthy():
    deadline = time.time() + 60
    while time.time() < deadline:
        h = client.healthcheck()["health"]
        # One connected coreapp per shard (the seeds' health: standbys say "disconnected").
        if sum(1 for v in h.values() if v.get("gateway_status") == "connected" and v.get("role") == "coreapp") == 2:
            return h
        time.sleep(0.5)
    raise AssertionError("two coreapps never connected: %r" % (h,))


call("client.healthcheck (both shards)", healthy)
# chaos/clients/wabclient.yml's `contacts` step said +1 650 555 0199 is not on WhatsApp.
call("client.check_contacts (wait)", lambda: client.check_contacts(["+1 650 555 0101", "+1 650 555 0199", "not a number"], wait=True),
     lambda r: [c["status"] for c in r["contacts"]] == ["valid", "invalid", "invalid"] and r["contacts"][0]["wa_id"] == "16505550101")
wa_id = call("client.get_address", lambda: client.get_address("+16505550101"))

sent = []
for name, fn in [
    ("client.send_message", lambda: client.send_message("+16505550101", "hello from wabclient, see https://example.com")),
    ("client.send_message (wa_id)", lambda: client.send_message(wa_id or "16505550101", "to the wa_id", preview_url=False)),
    ("client.send_message (check_address)", lambda: client.send_message("+16505550102", "checked first", check_address=True)),
    ("client.send_hsm", lambda: client.send_hsm("+16505550103", "replica_namespace", "order_update", "en",
                                                [{"default": "Ada"}, {"default": "42"}], language_policy="deterministic")),
    # The library has no `type: template` command; its own connection sends the product's document.
    ("connection.post (template)", lambda: client.connection.post("/v1/messages", json={
        "to": "16505550104", "type": "template", "template": {
            "namespace": "replica_namespace", "name": "order_update", "language": {"policy": "deterministic", "code": "en"},
            "components": [{"type": "body", "parameters": [{"type": "text", "text": "Ada"}]}]}}).json()),
]:
    r = call(name, fn, lambda r: r["messages"][0]["id"].startswith("gBEG"))
    if r:
        sent.append(r["messages"][0]["id"])
call("client.send_message (group)", lambda: client.connection.post("/v1/messages", json={
    "recipient_type": "group", "to": "16505550105", "type": "text", "text": {"body": "x"}}),
    lambda r: r.status_code == 400 and r.json()["errors"][0]["code"] == 1002)


def statuses():
    deadline = time.time() + 60
    while time.time() < deadline:
        with Hooks.lock:
            got = {i: list(Hooks.statuses.get(i, [])) for i in sent}
        if all("sent" in s and "delivered" in s for s in got.values()):
            return got
        time.sleep(0.5)
    raise AssertionError("statuses missing: %r" % (got,))


call("webhook: sent + delivered for every message", statuses)

call("config.set_about", lambda: config.set_about("Replica of the On-Premises API"))
call("config.get_about", config.get_about, lambda t: t == "Replica of the On-Premises API")
call("config.set_business_profile", lambda: config.set_business_profile(address="1 Replica Way", description="A replica",
                                                                       vertical="Testing", email="ops@example.com",
                                                                       websites=["https://example.com"]))
call("config.get_business_profile", config.get_business_profile,
     lambda b: b["profile"]["address"] == "1 Replica Way" and b["profile"]["websites"] == ["https://example.com"])
PNG = bytes.fromhex("89504e470d0a1a0a0000000d4948445200000001000000010806000000")
import io  # noqa: E402
call("config.set_profile_photo", lambda: config.set_profile_photo(io.BytesIO(PNG), "me.png"))
call("config.get_profile_photo", lambda: config.get_profile_photo().read(), lambda b: b == PNG)

backup = call("client.create_backup", lambda: client.create_backup("Backup-Pass-1"), lambda d: len(d) > 40)
call("config.set_settings (changed)", lambda: config.set_settings(on_call_pager="", webhook=HOOK_URL, callback_backoff_delay_ms=5000))
call("config.set_about (changed)", lambda: config.set_about("changed"))
call("client.restore_backup", lambda: client.restore_backup("Backup-Pass-1", backup))
call("config.get_settings (restored)", config.get_settings, lambda s: s["callback_backoff_delay_ms"] == 2000)
call("config.get_about (restored)", config.get_about, lambda t: t == "Replica of the On-Premises API")
call("client.restore_backup (wrong password)", lambda: client.connection.post("/v1/settings/restore", json={
    "password": "Wrong-Pass-1", "data": backup}), lambda r: r.status_code == 403 and "password" in r.text)

say("%d call(s) failed%s" % (len(failures), (": " + ", ".join(failures)) if failures else ""))
hooks.shutdown()
sys.exit(1 if failures else 0)
