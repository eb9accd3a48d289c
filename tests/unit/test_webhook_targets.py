"""Where a webhook may point: https in production, public addresses only (no private, loopback,
link-local, multicast or reserved one, by literal or by a name resolving to one), unless
private targets are allowed outside production; and the signature a receiver checks."""

from __future__ import annotations

import base64
import hashlib
import hmac
import socket
import ssl
import threading
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from ipaddress import ip_address

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from pydantic import ValidationError

from service.notifications import webhooks
from service.notifications.deliveries import RetryPolicy
from service.notifications.webhooks import (
    TargetRefused,
    TargetRules,
    new_webhook_secret,
    resolve,
    signed_headers,
)
from service.settings import Settings

PRODUCTION = TargetRules(require_https=True, allow_private=False)
DEVELOPMENT = TargetRules(require_https=False, allow_private=False)


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1/hook",
        "https://127.0.0.1:8443/hook",
        "https://10.1.2.3/hook",
        "https://172.16.0.9/hook",
        "https://192.168.1.1/hook",
        "https://169.254.169.254/latest/meta-data/",  # a cloud's metadata service
        "https://100.64.0.1/hook",  # carrier-grade NAT (shared address space)
        "https://0.0.0.0/hook",
        "https://224.0.0.1/hook",  # multicast
        "https://240.0.0.1/hook",  # reserved
        "https://[::1]/hook",
        "https://[fe80::1]/hook",
        "https://[fc00::1]/hook",
        "https://[::ffff:127.0.0.1]/hook",  # loopback dressed as IPv6
        "https://localhost/hook",  # a name that resolves to loopback
    ],
)
def test_a_private_loopback_link_local_multicast_or_reserved_target_is_refused(url):
    with pytest.raises(TargetRefused, match="not a public address"):
        resolve(url, DEVELOPMENT)


def test_a_name_is_refused_if_any_of_its_addresses_is_private(monkeypatch):
    """A name with a public and a private address could be rebound to the private one: refused
    whole. The address connected to is the one checked, not a second look-up's."""
    answers = {
        "mixed.example": ["93.184.216.34", "10.0.0.7"],
        "public.example": ["93.184.216.34"],
    }

    def getaddrinfo(host, port, type=0):
        return [(2, 1, 6, "", (address, port)) for address in answers[host]]

    monkeypatch.setattr(webhooks.socket, "getaddrinfo", getaddrinfo)
    with pytest.raises(TargetRefused, match=r"10\.0\.0\.7"):
        resolve("https://mixed.example/hook", PRODUCTION)
    target = resolve("https://public.example:8443/hook?x=1", PRODUCTION)
    assert (target.host, target.port) == ("public.example", 8443)
    assert str(target.address) == "93.184.216.34"


def test_https_is_required_in_production_and_the_url_must_be_plain():
    with pytest.raises(TargetRefused, match="must be https"):
        resolve("http://93.184.216.34/hook", PRODUCTION)
    assert resolve("http://93.184.216.34/hook", DEVELOPMENT).port == 80
    for url, why in [
        ("ftp://93.184.216.34/hook", "must be https or http"),
        ("https://user:pw@93.184.216.34/hook", "user name or password"),
        ("https:///hook", "names no host"),
        ("https://93.184.216.34/hook#x", "fragment"),
        ("https://93.184.216.34:99999/", "not a URL"),
        ("https://" + "a" * 2000 + ".example/", "at most 2000"),
    ]:
        with pytest.raises(TargetRefused, match=why):
            resolve(url, DEVELOPMENT)


def test_an_unresolvable_host_is_refused():
    with pytest.raises(TargetRefused, match="cannot be resolved"):
        resolve("https://no-such-host.invalid/hook", PRODUCTION)


def test_private_targets_are_allowed_only_when_set_and_never_in_production():
    allowing = TargetRules(require_https=False, allow_private=True)
    assert str(resolve("http://127.0.0.1:9/hook", allowing).address) == "127.0.0.1"
    assert Settings(environment="test").webhook_allow_private_targets is False
    with pytest.raises(ValidationError, match="CREDIT_WEBHOOK_ALLOW_PRIVATE_TARGETS"):
        Settings(
            environment="production",
            subject_id_key="k" * 32,
            key_encryption_key="e" * 32,
            webhook_allow_private_targets=True,
        )


def test_the_signature_is_hmac_sha256_over_id_timestamp_and_body_with_the_secret():
    secret = new_webhook_secret()
    assert secret.startswith("whsec_") and len(base64.b64decode(secret[6:])) == 32
    moment = datetime(2026, 11, 20, 4, 0, 5, tzinfo=UTC)
    body = '{"change_id":"c1","change":{"kind":"list.entered"}}'
    headers = signed_headers(secret, "c1", moment, body)
    assert headers["webhook-id"] == "c1"
    assert headers["webhook-timestamp"] == str(int(moment.timestamp()))
    key = base64.b64decode(secret.removeprefix("whsec_"))
    mac = hmac.new(key, f"c1.{headers['webhook-timestamp']}.{body}".encode(), hashlib.sha256)
    assert headers["webhook-signature"] == "v1," + base64.b64encode(mac.digest()).decode()
    assert new_webhook_secret() != secret


def test_retries_back_off_exponentially_with_jitter_up_to_a_ceiling():
    policy = RetryPolicy(base_seconds=30, max_interval_seconds=3600)
    assert [policy.delay(n, lambda: 1.0).total_seconds() for n in (1, 2, 3, 8, 9, 30)] == [
        30,
        60,
        120,
        3600,
        3600,
        3600,
    ]
    # Jitter takes up to half off, never more.
    assert policy.delay(3, lambda: 0.0).total_seconds() == 60
    # With the defaults, a receiver that never answers is tried for a day before the delivery
    # is abandoned, and its webhook pauses before that.
    default = RetryPolicy()
    elapsed, attempts = 0.0, 1
    while elapsed < default.window_seconds:
        elapsed += default.delay(attempts, lambda: 1.0).total_seconds()
        attempts += 1
    assert default.window_seconds >= 24 * 3600 and attempts > default.pause_after


def test_a_post_goes_to_the_checked_address_with_the_name_in_host_and_tls(monkeypatch, tmp_path):
    """The connection is made to the address that was checked, not to a second look-up of the
    name; TLS still names the host (SNI) and verifies its certificate against it."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "hooks.example")])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("hooks.example")]), False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    seen: dict[str, str | None] = {}

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            seen["host"] = self.headers["Host"]
            seen["body"] = self.rfile.read(int(self.headers["Content-Length"])).decode()
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    tls.load_cert_chain(cert_file, key_file)
    tls.sni_callback = lambda _socket, server_name, _context: seen.update(sni=server_name)
    server.socket = tls.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    port = server.server_address[1]
    trusting = ssl.create_default_context(cafile=str(cert_file))
    monkeypatch.setattr(webhooks, "tls_context", lambda: trusting)
    rules = TargetRules(require_https=True, allow_private=True)
    try:
        # "hooks.example" is never looked up: the target carries the address checked.
        target = webhooks.Target(
            f"https://hooks.example:{port}/hook", "hooks.example", port, ip_address("127.0.0.1")
        )
        outcome = webhooks.post(target, '{"a":1}', {"webhook-id": "c1"}, rules)
        assert (outcome.status_code, outcome.error, outcome.delivered) == (204, None, True)
        assert seen == {"sni": "hooks.example", "host": f"hooks.example:{port}", "body": '{"a":1}'}
        # A certificate for another name is refused: the address is pinned, not the trust.
        other = webhooks.Target(
            f"https://other.example:{port}/hook", "other.example", port, ip_address("127.0.0.1")
        )
        refused = webhooks.post(other, "{}", {}, rules)
        assert refused.status_code is None and "CERTIFICATE_VERIFY_FAILED" in (refused.error or "")
    finally:
        server.shutdown()
        server.server_close()


def test_the_trusted_roots_are_loaded_once_for_every_post(monkeypatch):
    """Loading the system's roots took most of a POST's time when each POST made its own."""
    loaded = []

    def load(**kwargs):
        loaded.append(kwargs)
        return ssl.create_default_context()

    monkeypatch.setattr(webhooks.httpx2, "create_ssl_context", load)
    webhooks.tls_context.cache_clear()
    try:
        with socket.socket() as closed:
            closed.bind(("127.0.0.1", 0))
            port = closed.getsockname()[1]
        target = webhooks.Target(
            f"http://127.0.0.1:{port}/h", "127.0.0.1", port, ip_address("127.0.0.1")
        )
        rules = TargetRules(require_https=False, allow_private=True, connect_timeout=1)
        for _ in range(3):
            assert webhooks.post(target, "{}", {}, rules).status_code is None  # refused
        assert loaded == [{"trust_env": False}]
    finally:
        webhooks.tls_context.cache_clear()
