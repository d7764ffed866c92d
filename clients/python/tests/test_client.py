"""The Python client against the worker in workerd (run by
``tests/python-client.test.mjs`` in ``npm test``, which sets
TIDINGS_TEST_API_URL and TIDINGS_TEST_KEYS), and offline against the shared
signing vectors and openapi.json."""

from __future__ import annotations

import asyncio
import inspect
import json
import os
import secrets
import threading
import time
import unittest
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Callable, Dict, List

import httpx

import tidings
from tidings import AsyncTidings, RetryPolicy, Tidings, TidingsError
from tidings._resources import _Resource
from tidings._transport import expand_path, parse_retry_after, query_string, retry_delay_seconds, retryable

ROOT = Path(__file__).resolve().parents[3]
VECTORS = json.loads((ROOT / "tests/vectors/signing.json").read_text())
OPENAPI = json.loads((ROOT / "openapi.json").read_text())
API_URL = os.environ.get("TIDINGS_TEST_API_URL", "")
KEYS: Dict[str, Any] = (
    json.loads(Path(os.environ["TIDINGS_TEST_KEYS"]).read_text())["environments"] if os.environ.get("TIDINGS_TEST_KEYS") else {}
)
live = unittest.skipUnless(API_URL and KEYS, "needs the worker: run through `npm test`")


def fresh(label: str) -> str:
    return f"{label}-{secrets.token_hex(6)}"


def feed_status(environment: str, subscriber: str, headers: Dict[str, str]) -> int:
    response = httpx.get(
        f"{API_URL}/v1/subscribers/{subscriber}/feed",
        headers={"Authorization": f"Bearer {KEYS[environment]['publishable_key']}", **headers},
    )
    return response.status_code


def wait_for(check: Callable[[], bool], what: str, seconds: float = 20) -> None:
    deadline = time.time() + seconds
    while time.time() < deadline:
        if check():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


class Receiver:
    """A local HTTP server recording requests; ``answers`` scripts the first
    few answers, after which it forwards to ``forward_to`` (or answers 200)."""

    def __init__(self, forward_to: str = "") -> None:
        self.requests: List[Dict[str, Any]] = []
        self.answers: List[tuple] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *_: Any) -> None:
                pass

            def handle_any(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                body = self.rfile.read(length) if length else b""
                receiver.requests.append({"method": self.command, "path": self.path, "headers": dict(self.headers), "body": body})
                if receiver.answers:
                    status, code = receiver.answers.pop(0)
                    payload = json.dumps({"error": {"code": code, "message": "try again"}}).encode()
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Retry-After", "1")
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                    return
                if not forward_to:
                    self.send_response(200)
                    self.send_header("Content-Length", "2")
                    self.end_headers()
                    self.wfile.write(b"ok")
                    return
                names = ("authorization", "content-type", "idempotency-key")
                headers = {name: value for name, value in self.headers.items() if name.lower() in names}
                upstream = httpx.request(self.command, f"{forward_to}{self.path}", headers=headers, content=body or None)
                self.send_response(upstream.status_code)
                self.send_header("Content-Type", upstream.headers.get("content-type", "application/json"))
                self.send_header("Content-Length", str(len(upstream.content)))
                self.end_headers()
                self.wfile.write(upstream.content)

            do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = handle_any

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class Surface(unittest.TestCase):
    def test_names_every_secret_key_operation_of_openapi(self) -> None:
        expected = {}
        for path, item in OPENAPI["paths"].items():
            for method, operation in item.items():
                if isinstance(operation, dict) and operation.get("x-tidings-scope"):
                    expected[operation["operationId"]] = (method.upper(), path)
        self.assertEqual({key: value[:2] for key, value in tidings.OPERATIONS.items()}, expected)

    def test_sync_and_async_clients_have_the_same_methods(self) -> None:
        def surface(cls: type) -> set:
            return {name for name, _ in inspect.getmembers(cls, callable) if not name.startswith("_")}

        self.assertEqual(surface(Tidings) - {"close"}, surface(AsyncTidings) - {"aclose"})
        for resource in _Resource.__subclasses__():
            self.assertTrue(all(not inspect.iscoroutinefunction(method) for _, method in inspect.getmembers(resource, inspect.isfunction)))

    def test_reproduces_the_shared_signing_vectors(self) -> None:
        for case in VECTORS["subscriber_tokens"]:
            token = tidings.sign_subscriber_token(
                signing_secret=case["signing_secret"],
                environment=case["environment"],
                subscriber_id=case["subscriber_id"],
                scope=case["scope"],
                key_id=case["key_id"],
                now=case["now_ms"] / 1000,
                ttl_seconds=case["ttl_seconds"],
            )
            self.assertEqual(token, case["token"])
        for case in VECTORS["subscriber_hashes"]:
            self.assertEqual(tidings.subscriber_hash(case["signing_secret"], case["subscriber_id"]), case["hash"])
        for case in VECTORS["webhook_signatures"]:
            self.assertEqual(tidings.sign_webhook(body=case["body"], secret=case["secret"], timestamp=case["timestamp"]), case["signature"])
            self.assertTrue(tidings.verify_webhook(body=case["body"], signature=case["signature"], secret=case["secret"], now=case["timestamp"]))

    def test_refuses_bad_options_with_a_typed_error(self) -> None:
        base = {"signing_secret": "s" * 64, "environment": "development", "subscriber_id": "user-1"}
        for change, field in [
            ({"environment": "Prod"}, "environment"),
            ({"subscriber_id": "a b"}, "subscriber_id"),
            ({"ttl_seconds": 0}, "ttl_seconds"),
            ({"ttl_seconds": 2592001}, "ttl_seconds"),
            ({"ttl_seconds": True}, "ttl_seconds"),
            ({"scope": "admin"}, "scope"),
            ({"key_id": "k1"}, "key_id"),
            ({"signing_secret": ""}, "signing_secret"),
        ]:
            with self.assertRaises(TidingsError) as caught:
                tidings.sign_subscriber_token(**{**base, **change})
            self.assertEqual((caught.exception.code, caught.exception.field), ("invalid_options", field))
        with self.assertRaises(TidingsError):
            Tidings(secret_key="pk_development_abc", api_url="http://127.0.0.1:1")
        for bad in ["/relative", "ftp://host", "https://host/?tenant=1", "https://host/#x", "https://user:pw@host"]:
            with self.assertRaises(TidingsError):
                Tidings(secret_key="sk_development_abc", api_url=bad)
        for name, value in [("max_retries", 1.5), ("max_retries", -1), ("max_retry_delay_seconds", float("nan")), ("base_retry_delay_seconds", float("inf"))]:
            with self.assertRaises(TidingsError) as caught:
                RetryPolicy(**{name: value})
            self.assertEqual(caught.exception.field, name)
        for now in [float("nan"), float("inf"), -1, 1e25]:
            with self.assertRaises(TidingsError) as caught:
                tidings.sign_subscriber_token(**base, now=now)
            self.assertEqual(caught.exception.field, "now")

    def test_keeps_parameters_inside_their_segments(self) -> None:
        self.assertEqual(expand_path("/v1/files/{path}", {"path": "a b/c?d#e.txt"}), "/v1/files/a%20b/c%3Fd%23e.txt")
        self.assertEqual(expand_path("/v1/subscribers/{subscriber_id}", {"subscriber_id": "a/b"}), "/v1/subscribers/a%2Fb")
        for template, params in [
            ("/v1/files/{path}", {"path": "../subscribers/user-1"}),
            ("/v1/files/{path}", {"path": "a/./b"}),
            ("/v1/files/{path}", {"path": "a//b"}),
            ("/v1/subscribers/{subscriber_id}", {"subscriber_id": ".."}),
            ("/v1/subscribers/{subscriber_id}", {"subscriber_id": "."}),
            ("/v1/subscribers/{subscriber_id}", {}),
        ]:
            with self.assertRaises(TidingsError):
                expand_path(template, params)
        self.assertEqual(query_string({"tags": ["a", "b"], "read": False, "limit": 5, "skip": None}), "?tags=a%2Cb&read=false&limit=5")
        self.assertEqual(query_string({"filters": [{"read": False}]}), "?filters=%5B%7B%22read%22%3Afalse%7D%5D")

    def test_verifies_webhooks_in_a_window_and_never_raises_on_a_bad_header(self) -> None:
        secret, body, now = "whsec_0123456789abcdef", '{"order":42}', 1_767_225_600
        signature = tidings.sign_webhook(body=body, secret=secret, timestamp=now)
        verify = tidings.verify_webhook
        self.assertTrue(verify(body=body, signature=signature, secret=secret, now=now))
        self.assertTrue(verify(body=body.encode(), signature=signature, secret=secret, now=now))
        self.assertFalse(verify(body='{"order":43}', signature=signature, secret=secret, now=now))
        self.assertFalse(verify(body=body, signature=signature, secret="whsec_other_secret_0", now=now))
        self.assertFalse(verify(body=body, signature=signature, secret=secret, now=now + 301))
        self.assertFalse(verify(body=body, signature=signature, secret=secret, now=now - 301))
        self.assertTrue(verify(body=body, signature=signature, secret=secret, now=now + 3600, tolerance_seconds=7200))
        for tolerance in [float("nan"), -1, float("inf"), "300"]:
            with self.assertRaises(TidingsError):
                verify(body=body, signature=signature, secret=secret, now=now, tolerance_seconds=tolerance)
        with self.assertRaises(TidingsError):
            verify(body=body, signature=signature, secret=secret, now=float("nan"))
        v1 = signature.split("v1=")[1]
        for header in [None, "", "garbage", "t=abc,v1=00", f"v1={v1}", signature.replace("v1=", "v1=zz", 1), f"t={now},v1={v1}=x"]:
            self.assertFalse(verify(body=body, signature=header, secret=secret, now=now), header)

    def test_retries_only_what_is_safe(self) -> None:
        self.assertTrue(retryable(429, "rate_limited", False))
        self.assertTrue(retryable(409, "request_in_progress", True))
        self.assertFalse(retryable(409, "workflow_exists", True))
        self.assertTrue(retryable(503, "unavailable", True))
        self.assertFalse(retryable(503, "unavailable", False))
        self.assertFalse(retryable(None, "network_error", False))
        self.assertFalse(retryable(422, "idempotency_key_reused", True))
        self.assertFalse(retryable(500, "internal_error", True))
        self.assertEqual(retry_delay_seconds(5, 2), 2.0)
        self.assertEqual(retry_delay_seconds(2, None, 0.25, lambda: 1.0), 1.0)
        self.assertEqual(parse_retry_after("7"), 7)
        self.assertEqual(parse_retry_after("Tue, 01 Jan 2030 00:00:10 GMT", now=1893456000), 10)
        self.assertIsNone(parse_retry_after("soon"))


@live
class AgainstTheWorker(unittest.TestCase):
    def setUp(self) -> None:
        self.client = Tidings(secret_key=KEYS["development"]["secret_key"], api_url=API_URL)

    def tearDown(self) -> None:
        self.client.close()

    def test_triggers_once_per_idempotency_key(self) -> None:
        subscriber = fresh("py-client")
        self.client.subscribers.upsert(subscriber, {"first_name": "Ada"})
        self.assertEqual(self.client.subscribers.get(subscriber)["first_name"], "Ada")
        event = {"workflow": "welcome", "to": [subscriber], "payload": {"name": "Ada"}}
        key = f"order-{secrets.token_hex(4)}"
        first = self.client.trigger(event, idempotency_key=key)
        again = self.client.trigger(event, idempotency_key=key)
        self.assertEqual(first["transaction_id"], again["transaction_id"])
        self.client.trigger(event)
        self.assertEqual(len(self.client.feed.list(subscriber, limit=10)["items"]), 2)
        self.assertEqual(self.client.feed.counts(subscriber)["unread"], 2)
        several = self.client.feed.counts(subscriber, filters=[{"read": False}, {"read": True}])
        self.assertEqual([counts["total"] for counts in several["results"]], [2, 0])
        # Feed actions are keyed too: the same key applies once, even after an undo in between.
        read = {"action": "read", "ids": [self.client.feed.list(subscriber)["items"][0]["id"]]}
        action_key = f"read-{secrets.token_hex(4)}"
        self.assertEqual(self.client.feed.act(subscriber, read, idempotency_key=action_key)["updated"], 1)
        self.assertEqual(self.client.feed.act(subscriber, {"action": "unread", "ids": read["ids"]})["updated"], 1)
        replayed = self.client.feed.act(subscriber, read, idempotency_key=action_key)
        self.assertEqual([replayed["updated"], replayed["counts"]["unread"]], [1, 2])
        bulk = self.client.trigger_bulk([event, {**event, "workflow": "no-such-workflow"}])
        self.assertEqual([result["status"] for result in bulk["results"]], [202, 404])
        self.assertEqual(self.client.environment()["name"], "development")

    def test_failures_are_typed(self) -> None:
        with self.assertRaises(TidingsError) as caught:
            self.client.subscribers.get(fresh("missing"))
        self.assertEqual((caught.exception.code, caught.exception.status), ("subscriber_not_found", 404))
        with self.assertRaises(TidingsError) as caught:
            self.client.workflows.save("bad", {"name": "x", "steps": [{"type": "in_app", "subject": "{{", "body": "b"}]})
        self.assertEqual((caught.exception.code, caught.exception.field), ("validation_failed", "steps.0.subject"))
        down = Tidings(secret_key=KEYS["development"]["secret_key"], api_url="http://127.0.0.1:9", retry=RetryPolicy(max_retries=0))
        with self.assertRaises(TidingsError) as caught:
            down.environment()
        self.assertEqual(caught.exception.code, "network_error")
        self.assertNotIn(KEYS["development"]["secret_key"], str(caught.exception))

    def test_tokens_and_hashes_the_feed_accepts(self) -> None:
        subscriber = fresh("py-token")
        staging = Tidings(secret_key=KEYS["staging"]["secret_key"], api_url=API_URL)
        staging.subscribers.upsert(subscriber)
        minted = staging.subscribers.mint_token(subscriber, ttl_seconds=600, scope="read")
        self.assertEqual(minted["scope"], "read")
        self.assertEqual(feed_status("staging", subscriber, {"X-Subscriber-Token": minted["token"]}), 200)
        secret = KEYS["staging"]["subscriber_signing_secret"]
        offline = tidings.sign_subscriber_token(signing_secret=secret, environment="staging", subscriber_id=subscriber, now=time.time() - 5)
        self.assertEqual(feed_status("staging", subscriber, {"X-Subscriber-Token": offline}), 200)
        self.assertEqual(feed_status("staging", subscriber, {"X-Subscriber-Hash": tidings.subscriber_hash(secret, subscriber)}), 200)
        wrong = tidings.sign_subscriber_token(signing_secret=secret, environment="production", subscriber_id=subscriber)
        self.assertEqual(feed_status("staging", subscriber, {"X-Subscriber-Token": wrong}), 401)
        staging.subscribers.revoke_tokens(subscriber)
        self.assertEqual(feed_status("staging", subscriber, {"X-Subscriber-Token": offline}), 401)
        staging.close()

    def test_content_variables_and_files(self) -> None:
        key = fresh("py-workflow")
        self.client.workflows.save(key, {"name": "From Python", "steps": [{"type": "in_app", "subject": "Hi", "body": "b"}]})
        self.assertEqual(len(self.client.workflows.versions(key)["items"]), 1)
        name = f"PY_CLIENT_{secrets.token_hex(3).upper()}"
        self.client.variables.put(name, "on")
        self.assertEqual(self.client.variables.get(name)["value"], "on")
        self.client.variables.delete(name)
        path = f"py-client/{secrets.token_hex(3)}.txt"
        self.client.files.put(path, b"hello", "text/plain")
        got = self.client.files.get(path)
        self.assertEqual(got["body"], b"hello")
        self.assertTrue(got["content_type"].startswith("text/plain"))
        self.assertEqual(self.client.files.delete(path), {"path": path, "deleted": True})
        self.assertEqual(self.client.workflows.delete(key), {"key": key, "deleted": True})

    def test_topics_and_a_trigger_to_one(self) -> None:
        topic = fresh("py-topic")
        members = [f"{topic}-a", f"{topic}-b"]
        self.assertEqual(self.client.topics.put(topic, name="Python")["name"], "Python")
        self.assertEqual(self.client.topics.add_members(topic, members), {"topic": topic, "changed": 2, "subscribers": 2})
        self.assertEqual(self.client.topics.members(topic)["items"], members)
        accepted = self.client.trigger({"workflow": "welcome", "to": [{"topic": topic}], "payload": {"name": "Py"}})
        self.assertEqual(accepted["status"], "queued")
        deadline = time.time() + 20
        state = self.client.transactions.get(accepted["transaction_id"])
        while state["status"] == "running" and time.time() < deadline:
            time.sleep(0.1)
            state = self.client.transactions.get(accepted["transaction_id"])
        self.assertEqual((state["status"], state["recipients"]), ("completed", {"done": 2, "total": 2}))
        self.assertEqual(self.client.topics.remove_members(topic, [members[1]])["subscribers"], 1)
        self.assertEqual(self.client.topics.delete(topic), {"key": topic, "deleted": True})

    def test_retries_through_a_flaky_proxy_and_never_resends_a_create(self) -> None:
        proxy = Receiver(forward_to=API_URL)
        try:
            flaky = Tidings(secret_key=KEYS["development"]["secret_key"], api_url=proxy.url)
            subscriber = fresh("py-retry")
            proxy.answers = [(503, "unavailable"), (429, "rate_limited")]
            answer = flaky.trigger({"workflow": "welcome", "to": [subscriber], "payload": {"name": "R"}})
            self.assertTrue(answer["transaction_id"])
            self.assertEqual(len(proxy.requests), 3)
            keys = {request["headers"].get("Idempotency-Key") for request in proxy.requests}
            self.assertEqual(len(keys), 1)
            self.assertNotIn(None, keys)
            self.assertEqual(len(self.client.feed.list(subscriber)["items"]), 1)
            proxy.requests.clear()
            proxy.answers = [(503, "unavailable")]
            with self.assertRaises(TidingsError) as caught:
                flaky.workflows.create({"key": fresh("maybe"), "name": "Maybe", "steps": [{"type": "in_app", "subject": "s", "body": "b"}]})
            self.assertEqual((caught.exception.code, caught.exception.retry_after), ("unavailable", 1))
            self.assertEqual(len(proxy.requests), 1)
            proxy.requests.clear()
            proxy.answers = [(503, "unavailable")]
            impatient = Tidings(secret_key=KEYS["development"]["secret_key"], api_url=proxy.url, retry=RetryPolicy(max_retry_delay_seconds=0))
            with self.assertRaises(TidingsError):
                impatient.environment()
            self.assertEqual(len(proxy.requests), 1)
        finally:
            proxy.close()

    def test_verifies_a_real_delivery(self) -> None:
        receiver = Receiver()
        secret = f"whsec_{secrets.token_hex(16)}"
        integration, workflow = fresh("py-hook"), fresh("py-hooked")
        try:
            self.client.integrations.create(
                {"id": integration, "kind": "webhook", "name": "Hook", "url": f"{receiver.url}/", "signing_secret": secret}
            )
            self.client.workflows.save(
                workflow,
                {"name": "Hooked", "steps": [{"type": "webhook", "integration": integration, "body": '{"user": {{ subscriber.id | tojson }}, "note": "Zoë ✓"}'}]},
            )
            subscriber = fresh("py-hook")
            self.client.trigger({"workflow": workflow, "to": [subscriber]})
            wait_for(lambda: len(receiver.requests) > 0, "the delivery")
            request = receiver.requests[0]
            signature = request["headers"].get("Tidings-Signature")
            self.assertTrue(tidings.verify_webhook(body=request["body"], signature=signature, secret=secret))
            self.assertFalse(tidings.verify_webhook(body=request["body"].replace("Zoë".encode(), b"Zoe"), signature=signature, secret=secret))
            self.assertEqual(json.loads(request["body"])["user"], subscriber)
        finally:
            receiver.close()
            self.client.workflows.delete(workflow)
            self.client.integrations.delete(integration)


@live
class AsyncAgainstTheWorker(unittest.IsolatedAsyncioTestCase):
    async def test_the_async_client_triggers_and_reads(self) -> None:
        async with AsyncTidings(secret_key=KEYS["development"]["secret_key"], api_url=API_URL) as client:
            subscriber = fresh("py-async")
            results = await asyncio.gather(
                client.trigger({"workflow": "welcome", "to": [subscriber], "payload": {"name": "A"}}, idempotency_key=f"k-{subscriber}"),
                client.trigger({"workflow": "welcome", "to": [subscriber], "payload": {"name": "A"}}, idempotency_key=f"k-{subscriber}"),
            )
            self.assertEqual(results[0]["transaction_id"], results[1]["transaction_id"], "concurrent retries of one key notify once")
            page = await client.feed.list(subscriber)
            self.assertEqual(len(page["items"]), 1)
            token = await client.subscribers.mint_token(subscriber, ttl_seconds=60)
            self.assertTrue(token["token"].startswith("st2."))
            with self.assertRaises(TidingsError) as caught:
                await client.workflows.get(fresh("missing"))
            self.assertEqual(caught.exception.code, "workflow_not_found")


if __name__ == "__main__":
    unittest.main()
