"""What the tests (and the benchmarks) share. Test modules import from here, never from each other.

- `waiting`: `wait_until`, the one polling loop, with a failure message naming what was awaited.
- `kafka`: unique ids, producers, reading topics, consumer groups.
- `pipeline`: driving the running detection job (`Pipeline`), and `wait_until_customers_read`,
  the check that the job has read the customers just published.
- `site`: the running site (the web server, the verdict worker) for the browser, load and security tests
  and the benchmarks; the URL of a test's database for processes started beside it.
- `records`, `reviews`: verdict records and rows, users with permissions, the review API.
- `websocket_clients`: operators' WebSocket clients against a running site.
- `session`: when the test session started.
"""

from tests.support.waiting import wait_until

__all__ = ["wait_until"]
