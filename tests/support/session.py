"""When the test session started (conftest imports this module first thing)."""

import time

SESSION_STARTED = time.time()
