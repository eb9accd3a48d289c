"""The benchmarks' load generator: its own garbage collector stays off while it sends, so that
a full collection of the requests it holds cannot pass for the server's latency, and comes
back on after."""

from __future__ import annotations

import gc
import socketserver
import threading

from bench.loadgen import _worker

ANSWER = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"


def test_a_generator_process_sends_with_its_collector_off():
    seen: list[bool] = []

    class Answer(socketserver.StreamRequestHandler):
        def handle(self) -> None:
            while line := self.rfile.readline():
                if line == b"\r\n":  # the end of a request's head (no body)
                    seen.append(gc.isenabled())  # the generator's: it shares this process
                    self.wfile.write(ANSWER)

    with socketserver.ThreadingTCPServer(("127.0.0.1", 0), Answer) as server:
        server.daemon_threads = True
        threading.Thread(target=server.serve_forever, daemon=True).start()
        port = server.server_address[1]
        assert gc.isenabled()
        result = _worker((f"http://127.0.0.1:{port}", [("GET", "/", {}, b"")], 200, 0.1, 0))
        server.shutdown()
    assert result["statuses"] == {"200": 20}
    assert len(seen) == 20 and not any(seen)
    assert gc.isenabled()
