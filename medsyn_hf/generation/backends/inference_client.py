"""The remote backend: chat completions through `huggingface_hub.InferenceClient`, for any OpenAI-compatible server
(vLLM, TGI, ``transformers serve``: ``base_url``), an Inference Endpoint (its URL as ``base_url``) or an Inference
Provider (``provider``). The server applies the model's chat template.

Each request carries its row key as ``seed`` (servers that honour it per request, such as vLLM, are then
reproducible per row), ``extra_body`` (vLLM/TGI fields such as ``top_k``; a ``response_format`` in it is sent as the
request's structured-output format). ``concurrency`` requests are in flight; a request is retried after HTTP 429/5xx,
a timeout or a dropped connection (``request_retries`` times, backoff 1, 2, 4 ... s, each retry one stderr line with
its reason), then it counts as failed: the other requests still finish (each passed to ``on_batch`` as it does) and
`RequestsFailed` names the failed ones. Errors that every request would meet (no server, refused key, unknown
endpoint, offline mode) stop at once, as one ``MedsynError`` line; huggingface_hub 1.x/2.x raise httpx(2) errors,
which are mapped here.

Fail loudly and early: connecting and waiting for the reply have separate timeouts (``connect_timeout``, 10 s; and
``request_timeout``, by default scaled to ``max_new_tokens``), printed when the backend starts; the first request of a
run is a probe sent alone, so a server that accepts connections but never answers, or answers something that is not a
chat completion, ends the run after one timeout with one line — not after ``concurrency`` x retries timeouts.
``request_timeout`` bounds the whole reply, not only each read: httpx's read timeout restarts with every chunk, so a
server trickling a byte at a time would otherwise hold a request for ever (`_deadline_hooks`).
"""

from __future__ import annotations

import importlib
import os
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from medsyn_hf.errors import MedsynError, first_line
from medsyn_hf.generation.backends.base import Backend, Completion, OnBatch, RequestsFailed
from medsyn_hf.validate import check_range

RETRY_STATUS = (429, 500, 502, 503, 504)
CONNECT_TIMEOUT = 10.0
READ_TIMEOUT_BASE, READ_TIMEOUT_PER_TOKEN = 60.0, 0.5  # the default request_timeout: 60 s + 0.5 s per new token
NO_KEY = "EMPTY"  # sent when no key is configured: else huggingface_hub sends the saved HF token to any base_url


@dataclass
class InferenceClientConfig:
    """The remote backend's settings (a section of GenerationArguments)."""

    extra_body: dict[str, Any] | None = field(
        default=None, metadata={"help": "openai: extra request fields, e.g. {top_k: 50} for vLLM or TGI. YAML only."}
    )
    base_url: str | None = field(
        default=None,
        metadata={
            "help": "openai: server root, e.g. http://localhost:8000/v1 (vLLM, TGI, transformers serve), or an "
            "Inference Endpoint URL."
        },
    )
    provider: str | None = field(
        default=None,
        metadata={
            "help": "openai: an HF Inference Provider ('auto', 'together', 'hf-inference', ...) instead of "
            "base_url; the model is served_model_name or model_name_or_path (a Hub id)."
        },
    )
    served_model_name: str | None = field(
        default=None, metadata={"help": "openai: `model` of the requests; unset: model_name_or_path."}
    )
    api_key_env: str = field(
        default="OPENAI_API_KEY",
        metadata={
            "help": "openai: environment variable holding the API key (HF_TOKEN for an Inference Endpoint). "
            "Unset: no key goes to base_url (never the saved HF token); a provider gets the HF token."
        },
    )
    concurrency: int = field(default=16, metadata={"help": "openai: requests in flight (the server batches them)."})
    connect_timeout: float = field(
        default=CONNECT_TIMEOUT, metadata={"help": "openai: seconds to wait for the server to accept a connection."}
    )
    request_timeout: float | None = field(
        default=None,
        metadata={
            "help": "openai: seconds to wait for a reply once connected (the server may queue the request behind "
            f"others). Unset: {READ_TIMEOUT_BASE:g} + {READ_TIMEOUT_PER_TOKEN:g} x max_new_tokens."
        },
    )
    request_retries: int = field(
        default=3,
        metadata={
            "help": "openai: retries after HTTP 429/5xx, a timeout or a dropped connection; then "
            "the request counts as failed (a re-run sends it again)."
        },
    )

    def __post_init__(self):
        check_range("concurrency", self.concurrency, 1)
        check_range("connect_timeout", self.connect_timeout, 0, low_open=True)
        check_range("request_timeout", self.request_timeout, 0, low_open=True)
        check_range("request_retries", self.request_retries, 0, 20)


class _Failed(Exception):
    """One request failed for good (after its retries, or a reply that no retry changes)."""


def read_timeout(config: InferenceClientConfig, max_new_tokens: int) -> float:
    """``request_timeout``, or by default one that grows with the longest reply asked for."""
    if config.request_timeout is not None:
        return float(config.request_timeout)
    return READ_TIMEOUT_BASE + READ_TIMEOUT_PER_TOKEN * max_new_tokens


def say(line: str) -> None:
    """One line on stderr that leaves a progress bar intact (tqdm redraws it below)."""
    from tqdm.auto import tqdm

    tqdm.write(line, file=sys.stderr)


def _http_module():
    """httpx (huggingface_hub 1.x) or httpx2 (2.x): the library whose errors InferenceClient raises."""
    from huggingface_hub.errors import HTTPError

    return importlib.import_module(HTTPError.__module__.split(".")[0])


_DEADLINE = threading.local()  # .at: the monotonic time the reply of this thread's request must be complete by


def _deadline_hooks() -> None:
    """Event hooks on huggingface_hub's shared session (installed once) that give a request made inside
    `InferenceClientBackend._request` a deadline for its whole body: the body's chunks are read through an iterator
    that raises the library's ``ReadTimeout`` once the deadline has passed. Requests made elsewhere (the Hub's) are
    left alone."""
    from huggingface_hub import get_session

    session = get_session()
    if any(getattr(h, "medsyn_deadline", False) for h in session.event_hooks["response"]):
        return
    http = _http_module()

    class Deadline(http.SyncByteStream):
        """A response body whose chunks stop coming at ``at`` (a monotonic time)."""

        def __init__(self, stream, request, at: float):
            self.stream, self.request, self.at = stream, request, at

        def __iter__(self):
            for chunk in self.stream:
                if time.monotonic() > self.at:
                    raise http.ReadTimeout("the reply was not complete by the deadline", request=self.request)
                yield chunk

        def close(self):
            self.stream.close()

    def on_request(request):
        at = getattr(_DEADLINE, "at", None)
        if at is not None:
            request.extensions = {**request.extensions, "medsyn_deadline": at}

    def on_response(response):
        at = response.request.extensions.get("medsyn_deadline")
        if at is not None:
            response.stream = Deadline(response.stream, response.request, at)

    on_request.medsyn_deadline = on_response.medsyn_deadline = True
    session.event_hooks = {
        "request": [*session.event_hooks["request"], on_request],
        "response": [*session.event_hooks["response"], on_response],
    }


def _let_through_offline_mode(url: str) -> None:
    """HF_HUB_OFFLINE blocks every request of huggingface_hub's shared session, a server named by base_url included;
    offline mode is about the Hub, so requests to that host pass (the session's other hooks still run for others)."""
    from huggingface_hub import constants, get_session

    if not constants.is_offline_mode():
        return
    session = get_session()
    hooks = session.event_hooks["request"]
    gate = next((h for h in hooks if hasattr(h, "hosts")), None)
    if gate is None:

        def gate(request, _others=tuple(hooks)):
            for hook in _others:  # our deadline hook runs for every host
                if request.url.host not in gate.hosts or getattr(hook, "medsyn_deadline", False):
                    hook(request)

        gate.hosts = set()
        session.event_hooks = {**session.event_hooks, "request": [gate]}
    gate.hosts.add(urlsplit(url).hostname)


class InferenceClientBackend(Backend):
    name = "openai"
    Config = InferenceClientConfig
    run_id_fields = ("extra_body",)

    def __init__(self, gen_args, model_args, device="cpu", model_and_tokenizer=None):
        from huggingface_hub import InferenceClient

        super().__init__(gen_args, model_args, device)
        config = self.config
        key = os.environ.get(config.api_key_env) or None
        self.read_timeout = read_timeout(config, gen_args.max_new_tokens)
        timeout = _http_module().Timeout(self.read_timeout, connect=config.connect_timeout)
        if config.base_url:
            _let_through_offline_mode(config.base_url)
            self.client = InferenceClient(base_url=config.base_url.rstrip("/"), api_key=key or NO_KEY, timeout=timeout)
        else:
            self.client = InferenceClient(provider=config.provider, api_key=key, timeout=timeout)
        _deadline_hooks()
        self.where = config.base_url or f"provider {config.provider}"
        self.probed = False
        say(
            f"medsyn: backend openai: {self.where}; connect timeout {config.connect_timeout:g} s, reply timeout "
            f"{self.read_timeout:g} s (request_timeout), {config.request_retries} retries per request"
        )
        self.model = config.served_model_name or model_args.model_name_or_path
        extra = dict(config.extra_body or {})
        self.sampling = dict(
            max_tokens=gen_args.max_new_tokens,
            temperature=gen_args.temperature,
            top_p=gen_args.top_p,
            response_format=extra.pop("response_format", None),
            extra_body=extra or None,
        )

    @classmethod
    def make_config(cls, gen_args):
        config = super().make_config(gen_args)
        if bool(config.base_url) == bool(config.provider):
            raise MedsynError(
                "backend 'openai' needs base_url (e.g. http://localhost:8000/v1) or provider (an "
                "Inference Provider such as 'auto'), not both"
            )
        return config

    @classmethod
    def model_identity(cls, gen_args, model_args) -> dict:
        config = cls.make_config(gen_args)
        identity = {"served_model_name": config.served_model_name or model_args.model_name_or_path}
        return {**identity, "provider": config.provider} if config.provider else identity

    def _failure(self, err: Exception, probe: bool = False) -> tuple[str, bool]:
        """(one-line reason, worth a retry) for a failed request; raises MedsynError for what fails every request
        (and, for the ``probe``, for a silent server and a reply that is not a chat completion)."""
        from huggingface_hub.errors import HfHubHTTPError, InferenceTimeoutError, OfflineModeIsEnabled

        http = _http_module()
        if isinstance(err, OfflineModeIsEnabled):
            raise MedsynError(
                f"{self.where}: offline mode (HF_HUB_OFFLINE) blocks the request; unset it or serve "
                "the model and give base_url"
            ) from None
        if isinstance(err, HfHubHTTPError):
            status = err.response.status_code
            detail = first_line(err.server_message or err)[:200]
            if status in (401, 403):
                raise MedsynError(
                    f"{self.where}: not authorised (HTTP {status}); put the key in the variable named "
                    f"by api_key_env ({self.config.api_key_env})"
                ) from None
            if status == 404:
                raise MedsynError(f"{self.where}: HTTP 404 {detail} (check base_url and served_model_name)") from None
            return f"HTTP {status} {detail}", status in RETRY_STATUS
        if isinstance(err, InferenceTimeoutError | http.TimeoutException):
            cause = err if isinstance(err, http.TimeoutException) else err.__cause__
            if isinstance(cause, http.ConnectTimeout | http.PoolTimeout):
                reason = f"no connection in {self.config.connect_timeout:g} s (connect_timeout)"
                if probe:
                    raise MedsynError(f"cannot connect to {self.where}: {reason}; is the server running?") from None
                return reason, True
            if probe:
                raise MedsynError(
                    f"server at {self.where} accepted the connection but sent nothing (no complete reply) in "
                    f"{self.read_timeout:g} s "
                    "(request_timeout); is it overloaded or still loading the model? Raise request_timeout if it "
                    "needs longer"
                ) from None
            return f"no reply in {self.read_timeout:g} s (request_timeout)", True
        if isinstance(err, http.ConnectError):
            raise MedsynError(f"cannot reach {self.where}: {first_line(err)} (is the server running?)") from None
        if isinstance(err, http.HTTPError):
            return f"{type(err).__name__}: {first_line(err)}", True
        if isinstance(err, ValueError | KeyError | TypeError | AttributeError | IndexError):
            reason = f"not an OpenAI chat completion reply ({type(err).__name__}: {first_line(err)[:200]})"
            if probe:
                raise MedsynError(f"{self.where}: {reason}; is base_url an OpenAI-compatible /v1 server?") from None
            return reason, False
        raise err

    def _request(self, messages, key: int, probe: bool = False) -> Completion:
        retries = self.config.request_retries
        for attempt in range(retries + 1):
            try:
                _DEADLINE.at = time.monotonic() + self.read_timeout
                try:
                    reply = self.client.chat_completion(
                        list(messages), model=self.model, seed=key, n=1, **self.sampling
                    )
                finally:
                    _DEADLINE.at = None
                choice, usage = reply.choices[0], reply.usage
                return Completion(
                    (choice.message.content or "").strip(),
                    int(getattr(usage, "prompt_tokens", 0) or 0),
                    int(getattr(usage, "completion_tokens", 0) or 0),
                    "stop" if choice.finish_reason == "stop" else "length",
                )
            except Exception as err:  # sorted by _failure: retried, failed for good, or fatal
                reason, retry = self._failure(err, probe)
                if not retry or attempt == retries:
                    if probe:  # the first request failed for good: so would every other
                        raise MedsynError(f"{self.where}: the first request failed ({reason})") from None
                    raise _Failed(reason) from None
            say(f"medsyn: warning: request (seed {key}): {reason}; retry {attempt + 1} of {retries} in {2**attempt} s")
            time.sleep(2**attempt)
        raise AssertionError("unreachable")

    def generate(self, messages_list, keys, on_batch: OnBatch | None = None) -> list[Completion]:
        results, failed = {}, {}
        if messages_list and not self.probed:  # the probe: the first request alone (see the module)
            results[0] = self._request(messages_list[0], keys[0], probe=True)
            self.probed = True
            if on_batch:
                on_batch({0: results[0]})
        with ThreadPoolExecutor(self.config.concurrency) as pool:
            futures = {
                pool.submit(self._request, m, k): i
                for i, (m, k) in enumerate(zip(messages_list, keys))
                if i not in results
            }
            try:
                for future in as_completed(futures):
                    i = futures[future]
                    try:
                        results[i] = future.result()
                    except _Failed as err:
                        failed[i] = str(err)
                        continue
                    if on_batch:
                        on_batch({i: results[i]})
            except BaseException:  # a fatal error or Ctrl-C: no new request; those in flight end on their own
                for future in futures:
                    future.cancel()
                raise
        if failed:
            raise RequestsFailed(failed, len(messages_list))
        return [results[i] for i in range(len(messages_list))]
