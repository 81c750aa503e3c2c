"""gTTS, the online voice. The real client; its endpoint can be pointed elsewhere (tests)."""

from __future__ import annotations

import io
import threading

from loa.voice.engine import LABELS_VI, EngineError, Speech

GTTS_PATH = "_/TranslateWebserverUi/data/batchexecute"


def _client_class():
    from gtts import gTTS

    class EndpointTTS(gTTS):
        """gTTS that posts to `endpoint` instead of translate.google.<tld>."""

        endpoint: str | None = None

        def _prepare_requests(self):
            requests = super()._prepare_requests()
            if self.endpoint:
                for r in requests:
                    r.prepare_url(self.endpoint, None)
            return requests

    return EndpointTTS


class GttsEngine:
    name = "gtts"
    label_vi = LABELS_VI["gtts"]
    online = True

    def __init__(
        self,
        lang: str = "vi",
        tld: str = "com.vn",
        slow: bool = False,
        timeout: float = 10.0,
        endpoint: str | None = None,
        attempts: int = 3,
        backoff: float = 1.0,
        sleep=None,
    ):
        self.lang, self.tld, self.slow = lang, tld, slow
        self.attempts, self.backoff = max(1, attempts), backoff
        self._sleep = sleep or __import__("time").sleep
        # Per-request socket timeout; the whole call also has a deadline below,
        # because a server that trickles bytes defeats a socket timeout.
        self.timeout = timeout
        self.endpoint = endpoint

    @property
    def voice(self) -> str:
        return f"{self.lang}-{self.tld}"

    def _classify(self, exc: Exception) -> EngineError:
        import requests
        from gtts.tts import gTTSError

        msg = str(exc)
        if isinstance(exc, gTTSError):
            status = getattr(getattr(exc, "rsp", None), "status_code", None)
            cause = exc.__context__
            if status == 429:
                return EngineError(self.name, "rate-limited", msg)
            if status is not None and 400 <= status < 500:
                return EngineError(self.name, "rejected", msg)
            if isinstance(cause, requests.exceptions.Timeout):
                return EngineError(self.name, "timeout", msg)
            if isinstance(cause, requests.exceptions.ConnectionError) or status is None:
                return EngineError(self.name, "offline", msg)
            return EngineError(self.name, "broken", msg)
        if isinstance(exc, AssertionError | ValueError):
            return EngineError(self.name, "rejected", msg)
        return EngineError(self.name, "broken", f"{type(exc).__name__}: {msg}")

    def synthesize(self, text: str) -> Speech:
        """Retry what may pass (rate limits, timeouts, broken answers) with growing waits;
        an unreachable host or a rejected text fails at once."""
        for attempt in range(1, self.attempts + 1):
            try:
                return self._once(text)
            except EngineError as exc:
                if exc.kind in ("offline", "rejected") or attempt == self.attempts:
                    raise
                self._sleep(self.backoff * 2 ** (attempt - 1))
        raise AssertionError("unreachable")

    def _once(self, text: str) -> Speech:
        cls = _client_class()
        result: dict[str, object] = {}

        def work() -> None:
            try:
                tts = cls(
                    text, lang=self.lang, tld=self.tld, slow=self.slow,
                    lang_check=False, timeout=self.timeout,
                )
                tts.endpoint = self.endpoint
                buf = io.BytesIO()
                tts.write_to_fp(buf)
                result["data"] = buf.getvalue()
            except Exception as exc:  # classified below, in the caller's thread
                result["error"] = exc

        worker = threading.Thread(target=work, name="gtts", daemon=True)
        worker.start()
        deadline = self.timeout * 3 + max(5.0, len(text) / 100 * self.timeout)
        worker.join(deadline)
        if worker.is_alive():
            raise EngineError(self.name, "timeout", f"no complete answer in {deadline:.0f} s")
        if "error" in result:
            raise self._classify(result["error"])  # type: ignore[arg-type]
        data = result.get("data", b"")
        if not data:
            raise EngineError(self.name, "broken", "empty audio")
        return Speech(data, "mp3", self.name, self.voice)  # type: ignore[arg-type]
