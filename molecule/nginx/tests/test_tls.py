"""TLS as the nginx role serves it, besides the certificate on the host (test_nginx.py): the "ctl"
site's certificate and key from the controller (prepare.yml made them in the scenario's ephemeral
directory), Mozilla's intermediate profile, HSTS only where a site opts in, the security headers
(the app's own value wins), and the ACME challenge path answered on port 80 of a site that
redirects to HTTPS, or passed on to the web host that runs certbot. The bad certificates are test_nginx.py's bad-input cases."""

import base64
import json
import os
import pathlib
import time
import uuid

import pytest
from cryptography.hazmat.primitives import serialization

from conftest import run_playbook

CONTROLLER_TLS = pathlib.Path(os.environ.get("MOLECULE_EPHEMERAL_DIRECTORY", "/nonexistent")) / "tls"
CTL_DIR = "/etc/nginx/tls/ctl"
WEBROOT = "/var/www/_acme-challenge"
SECURITY_HEADERS = {"x-content-type-options": "nosniff", "x-frame-options": "SAMEORIGIN",
                    "referrer-policy": "strict-origin-when-cross-origin"}


def curl_headers(host, args):
    """{lower-case name: [values]} of a response's headers (curl -D -), and the status."""
    out = host.run("curl -s --max-time 10 -o /dev/null -D - " + args)
    assert out.rc == 0, out.stderr
    lines = out.stdout.replace("\r", "").splitlines()
    headers = {}
    for line in lines[1:]:
        name, sep, value = line.partition(":")
        if sep:
            headers.setdefault(name.strip().lower(), []).append(value.strip())
    return int(lines[0].split()[1]), headers


def https(name, path="/echo"):
    return "--resolve %s:443:127.0.0.1 https://%s%s" % (name, name, path)


# --- certificates from the controller ------------------------------------------------------------


def test_the_controllers_certificate_is_served_and_verifies(host):
    installed = host.file(CTL_DIR + "/fullchain.pem").content_string
    assert installed == (CONTROLLER_TLS / "ctl.test.crt").read_text()
    # the self-signed certificate is its own issuer: curl verifies the served chain against it
    status, _headers = curl_headers(host, "--cacert %s/fullchain.pem %s" % (CTL_DIR, https("ctl.test")))
    assert status == 200


@pytest.mark.parametrize("path, mode", [(CTL_DIR, 0o700), (CTL_DIR + "/privkey.pem", 0o600),
                                        (CTL_DIR + "/fullchain.pem", 0o644)])
def test_the_controllers_files_are_roots_with_the_keys_unreadable_to_others(host, path, mode):
    installed = host.file(path)
    assert (installed.user, installed.group, installed.mode) == ("root", "root", mode)


# --- Mozilla's intermediate profile -----------------------------------------------------------------


@pytest.mark.parametrize("cipher, exit_code", [("ECDHE-RSA-AES128-GCM-SHA256", 0),
                                               ("ECDHE-RSA-CHACHA20-POLY1305", 0),
                                               ("AES128-GCM-SHA256", 35),  # no forward secrecy
                                               ("ECDHE-RSA-AES128-SHA", 35)])  # CBC
def test_tls_1_2_takes_only_the_profiles_ciphers(host, cipher, exit_code):
    """curl's 35 is a failed handshake: nginx refused the cipher, curl offered it."""
    out = host.run("curl -sk --max-time 10 -o /dev/null --tls-max 1.2 --ciphers %s %s" % (cipher, https("tls.test")))
    assert out.rc == exit_code, out.stderr


def test_nginx_conf_names_the_profiles_curves_and_session_settings(host):
    conf = host.file("/etc/nginx/nginx.conf").content_string
    # Debian 13's OpenSSL 3.5 keeps its hybrid post-quantum group first
    hybrid = "X25519MLKEM768:" if host.system_info.codename == "trixie" else ""
    for line in ("ssl_ecdh_curve %sX25519:prime256v1:secp384r1;" % hybrid, "ssl_prefer_server_ciphers off;",
                 "ssl_session_tickets off;"):
        assert line in conf


# --- HSTS and the security headers -------------------------------------------------------------------


def test_hsts_is_sent_by_the_site_that_opts_in(host):
    _status, headers = curl_headers(host, "--cacert %s/fullchain.pem %s" % (CTL_DIR, https("ctl.test")))
    assert headers.get("strict-transport-security") == ["max-age=600"], headers


@pytest.mark.parametrize("args", [
    "-k " + https("tls.test"),  # TLS, not opted in
    "-H 'Host: plain.test' http://127.0.0.1/echo"])  # plain HTTP
def test_no_hsts_elsewhere(host, args):
    _status, headers = curl_headers(host, args)
    assert "strict-transport-security" not in headers, headers


@pytest.mark.parametrize("args", [
    "-H 'Host: plain.test' http://127.0.0.1/echo",  # proxied
    "-H 'Host: plain.test' http://127.0.0.1/static/hello.txt",  # from disk
    "-k " + https("tls.test")])
def test_every_response_carries_the_security_headers(host, args):
    status, headers = curl_headers(host, args)
    assert status == 200 and {name: headers.get(name) for name in SECURITY_HEADERS} == {
        name: [value] for name, value in SECURITY_HEADERS.items()}, headers


def test_the_apps_own_header_wins(host):
    _status, headers = curl_headers(host, "-H 'Host: plain.test' -H 'X-Echo-Response-Header: X-Frame-Options: DENY' "
                                          "http://127.0.0.1/echo")
    assert headers.get("x-frame-options") == ["DENY"], headers


# --- the ACME challenge path ---------------------------------------------------------------------------


@pytest.fixture()
def challenge(host):
    token = uuid.uuid4().hex
    path = "%s/.well-known/acme-challenge/%s" % (WEBROOT, token)
    host.run("mkdir -p %s/.well-known/acme-challenge && echo %s.key > %s" % (WEBROOT, token, path))
    yield token
    host.run("rm -f %s" % path)


@pytest.mark.parametrize("name", ["tls.test", "plain.test", "unknown.test"])
def test_the_challenge_is_answered_on_port_80_even_where_http_redirects(host, challenge, name):
    out = host.run("curl -s --max-time 10 -w ' %%{http_code}' -H 'Host: %s' "
                   "http://127.0.0.1/.well-known/acme-challenge/%s" % (name, challenge))
    assert out.stdout == "%s.key\n 200" % challenge, out.stdout


def test_other_paths_of_the_redirecting_site_still_redirect(host):
    out = host.run("curl -s --max-time 10 -o /dev/null -w '%{http_code}' -H 'Host: tls.test' "
                   "http://127.0.0.1/.well-known/other")
    assert out.stdout == "301"


@pytest.fixture(scope="module")
def challenge_proxied(host):
    """One host converged as a web host that does not run certbot (nginx_acme_challenge_proxy: the
    stand-in backend stands for the web host that does), at -vvv (the run whose output the key test
    reads), then asked for a challenge. Last of this module: the host stays so until
    test_z_role_defaults.py's runs (the role with its defaults, then converge.yml) converge it back,
    which the shared check-mode test then finds converged."""
    if host.backend.get_hostname() != "nginx-bookworm":
        pytest.skip("one host is enough: the template is the same on both releases")
    proxied = run_playbook("converge.yml", extra_vars={"nginx_acme_challenge_proxy": "127.0.0.1:8000"},
                           limit="nginx-bookworm", verbosity=3)
    time.sleep(2)  # the reload's new workers
    answer = host.run("curl -s --max-time 10 -H 'Host: tls.test' http://127.0.0.1/.well-known/acme-challenge/tok")
    return {"proxied": proxied, "answer": answer.stdout}


def test_a_host_without_certbot_passes_the_challenge_to_the_one_with_it(challenge_proxied):
    assert challenge_proxied["proxied"].returncode == 0, challenge_proxied["proxied"].stdout[-3000:]
    echoed = json.loads(challenge_proxied["answer"])
    assert (echoed["path"], echoed["headers"]["host"]) == ("/.well-known/acme-challenge/tok", "tls.test"), echoed


def test_the_key_is_never_in_the_output_even_at_vvv(challenge_proxied):
    """A whole converge at -vvv on one host (a run that changes the sites and reloads nginx): its
    output must not hold the controller's key. The secret is the EC key's private value (the PEM's
    first line holds it); its later lines hold the public key, which the certificate's info may
    show."""
    verbose_run = challenge_proxied["proxied"]
    pem = (CONTROLLER_TLS / "ctl.test.key").read_text()
    secret = serialization.load_pem_private_key(pem.encode(), password=None).private_numbers().private_value
    raw = secret.to_bytes(32, "big")
    forms = [pem.splitlines()[1], raw.hex(), base64.b64encode(raw).decode()]
    output = verbose_run.stdout + verbose_run.stderr
    assert verbose_run.returncode == 0, output[-3000:]
    assert "ESTABLISH" in output, "the run was not verbose (-vvv)"
    assert not [form for form in forms if form in output]
    assert "Read their private keys (output hidden)" in output  # the run did read it
