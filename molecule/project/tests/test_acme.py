"""The example's TLS site by ACME (docs/examples/inventory web.yml: tls.source acme), issued in the
first converge by the local pebble (prepare.yml; site.yml names it as nginx_acme_directory) and
verified against pebble's root of this start (its management port): the page, HTTP/2, a wss://
broadcast (nginx tells the consumer the client came over https), Django's view of the scheme, the
redirect that spares the challenge path, and a renewal forced without Ansible (certbot renew, as
certbot.timer runs it): a new certificate served after the deploy hook's reload, by the same nginx
master, with the WebSockets open before it still open."""

import json
import time
import uuid

import pytest

from conftest import wsclient
from project_helpers import EDGE, NOTIFICATIONS, SITE

testinfra_hosts = ["ansible://%s" % EDGE]

ROOT = "/tmp/pebble-root.pem"
LIVE = "/etc/letsencrypt/live/mysite"
VERIFIED = "--host-header %s --origin https://%s --cafile %s" % (SITE, SITE, ROOT)
HELD = 4


@pytest.fixture(scope="module", autouse=True)
def pebble_root(host):
    """Pebble's root of this start, fetched over its management port (verified by the test CA the
    web host trusts)."""
    fetched = host.run("curl -sf --max-time 10 -o %s https://project-pebble:15000/roots/0" % ROOT)
    assert fetched.rc == 0, fetched.stderr
    return ROOT


def served_serial(host):
    out = host.run("openssl s_client -connect 127.0.0.1:443 -servername %s </dev/null 2>/dev/null "
                   "| openssl x509 -noout -serial" % SITE)
    assert out.rc == 0, out.stderr
    return out.stdout.strip()


def established(host):
    """Client connections to nginx's port 443 on this host (the held WebSockets)."""
    return len(host.run("ss -Htn state established '( dport = :443 )'").stdout.splitlines())


def curl_verified(host, args, path="/"):
    return host.run("curl -s --max-time 10 --cacert %s --resolve %s:443:127.0.0.1 %s https://%s%s"
                    % (ROOT, SITE, args, SITE, path))


def test_the_first_converge_got_a_certificate_from_pebble(host):
    out = host.run("openssl x509 -in %s/cert.pem -noout -issuer -ext subjectAltName" % LIVE)
    assert out.rc == 0 and "Pebble" in out.stdout and "DNS:%s" % SITE in out.stdout, out.stdout


def test_the_page_is_served_over_https_under_pebbles_root(host):
    out = curl_verified(host, "-w '\\n%{http_code}'")
    body, status = out.stdout.rsplit("\n", 1)
    assert out.rc == 0 and status == "200", out.stderr
    assert json.loads(body)["secure"] is True, body  # Django sees HTTPS (SECURE_PROXY_SSL_HEADER)


def test_http2_is_negotiated(host):
    out = curl_verified(host, "--http2 -o /dev/null -w '%{http_version}'")
    assert out.stdout == "2", out.stderr


def test_a_wss_broadcast_crosses_the_app_hosts_under_pebbles_root(host):
    result = wsclient(host, "broadcast %s %s %s --send '{\"say\": \"tls\"}' --expect tls --distinct host"
                      % (NOTIFICATIONS, NOTIFICATIONS, VERIFIED))
    assert result["ok"], result
    assert result["listener_hello"]["forwarded_proto"] == "https", result["listener_hello"]


def test_plain_http_redirects_but_the_challenge_path(host):
    token = uuid.uuid4().hex
    path = "/var/www/_acme-challenge/.well-known/acme-challenge/" + token
    host.run("mkdir -p /var/www/_acme-challenge/.well-known/acme-challenge && echo %s > %s" % (token, path))
    try:
        page = host.run("curl -s --max-time 10 -o /dev/null -w '%%{http_code}' -H 'Host: %s' http://127.0.0.1/" % SITE)
        challenge = host.run("curl -s --max-time 10 -H 'Host: %s' http://127.0.0.1/.well-known/acme-challenge/%s"
                             % (SITE, token))
    finally:
        host.run("rm -f %s" % path)
    assert (page.stdout, challenge.stdout.strip()) == ("301", token)


@pytest.mark.parametrize("setting", ["authenticator = webroot", "server = https://project-pebble:14000/dir"])
def test_certbot_renews_with_the_webroot_and_the_same_directory(host, setting):
    assert setting in host.file("/etc/letsencrypt/renewal/mysite.conf").content_string


def test_certbots_timer_is_enabled(host):
    timer = host.service("certbot.timer")
    assert timer.is_enabled and timer.is_running


@pytest.fixture(scope="module")
def renewed(host):
    """WebSockets held from before a renewal forced without Ansible until after it."""
    unit = "wss-held-%d" % time.time_ns()
    host.run("rm -f /run/%s.json" % unit)
    started = host.run("systemd-run --unit=%s --collect -p StandardOutput=file:/run/%s.json "
                       "/usr/local/bin/wsclient hold %s --count %d --seconds 25 %s"
                       % (unit, unit, NOTIFICATIONS, HELD, VERIFIED))
    assert started.rc == 0, started.stderr
    deadline = time.monotonic() + 20
    while established(host) < HELD and time.monotonic() < deadline:
        time.sleep(0.5)
    opened_before = established(host)
    before = {"serial": served_serial(host), "master": host.file("/run/nginx.pid").content_string.strip()}
    renew = host.run("certbot renew --force-renewal --no-random-sleep-on-renew")
    time.sleep(2)
    after = {"serial": served_serial(host), "master": host.file("/run/nginx.pid").content_string.strip(),
             "live": host.run("openssl x509 -in %s/cert.pem -noout -serial" % LIVE).stdout.strip()}
    deadline = time.monotonic() + 60
    while host.run("systemctl is-active --quiet %s" % unit).rc == 0 and time.monotonic() < deadline:
        time.sleep(1)
    held = json.loads(host.file("/run/%s.json" % unit).content_string or "{}")
    return {"renew": renew, "before": before, "after": after, "held": held, "opened_before": opened_before}


def test_a_forced_renewal_succeeds(renewed):
    assert renewed["renew"].rc == 0, renewed["renew"].stdout + renewed["renew"].stderr


def test_the_renewed_certificate_is_served(renewed):
    assert renewed["after"]["serial"] == renewed["after"]["live"] != renewed["before"]["serial"], renewed


def test_the_renewal_reloaded_nginx_without_restarting_its_master(renewed):
    assert renewed["after"]["master"] == renewed["before"]["master"], renewed


def test_websockets_open_before_the_renewal_stay_open(renewed):
    assert renewed["opened_before"] >= HELD, renewed
    assert renewed["held"].get("opened") == HELD and renewed["held"].get("alive_at_end") == HELD, renewed["held"]
