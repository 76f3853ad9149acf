"""Profile evidence for a benchmark step: py-spy samples one web process while the step runs.

Sampled with --gil: only the thread holding Python's interpreter lock counts, so a sample is
Python work of the process (on any of its threads), and samples / (rate x seconds) is the share of
the step its interpreter was held: near 1, the process is bound by its own Python (or was held
while the machine gave it no core)."""

import subprocess
import sys
from collections import Counter
from contextlib import contextmanager
from pathlib import Path

SAMPLES_PER_SECOND = 100
TOP = 12


def descendants(pid):
    """Every process under pid (read from /proc)."""
    children = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, ValueError, IndexError):
                continue
            children.setdefault(parent, []).append(int(entry.name))
    found, queue = [], [pid]
    while queue:
        for child in children.get(queue.pop(), []):
            found.append(child)
            queue.append(child)
    return found


def web_worker(server_pid):
    """One uvicorn worker process of a fraudsite.server process (workers are spawned children)."""
    for pid in descendants(server_pid):
        try:
            if b"spawn_main" in Path(f"/proc/{pid}/cmdline").read_bytes():
                return pid
        except OSError:
            continue
    return None


@contextmanager
def profiled(pid, seconds, output):
    """Samples pid for seconds (py-spy, installed with bench/requirements.txt); yields a dict that
    holds the summary once the block has ended."""
    process = subprocess.Popen(
        [str(Path(sys.executable).with_name("py-spy")), "record", "--pid", str(pid), "--duration", str(seconds),
         "--rate", str(SAMPLES_PER_SECOND), "--gil", "--threads", "--format", "raw", "--output", str(output),
         "--nonblocking"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    summary = {}
    try:
        yield summary
    finally:
        _, errors = process.communicate(timeout=seconds + 60)
        if process.returncode == 0 and Path(output).exists():
            summary.update(summarize(Path(output).read_text(), seconds))
        else:
            summary["error"] = errors.strip()[-500:]


def summarize(raw, seconds):
    """py-spy's raw lines ("thread (tid): name;frame;...;frame count") -> the busy share, the share
    of samples per thread and the functions with the most samples under them (inclusive, each
    function counted once per sample)."""
    threads, functions, total = Counter(), Counter(), 0
    for line in raw.splitlines():
        stack, _, count = line.rpartition(" ")
        if not count.isdigit():
            continue
        frames, count = stack.split(";"), int(count)
        total += count
        threads[frames[0].split(": ", 1)[-1]] += count
        for function in {_function(frame) for frame in frames[1:]}:
            functions[function] += count
    share = lambda count: round(count / total, 3) if total else None
    return {
        "samples": total, "busy_share": round(total / (SAMPLES_PER_SECOND * seconds), 3),
        "threads": {name: share(count) for name, count in threads.most_common()},
        "functions": dict([(name, share(count)) for name, count in functions.most_common()
                           if not name.startswith(_BOOTSTRAP)][:TOP]),
    }


# Frames every sample of a thread has (process and thread start, the event loop's run): no evidence.
_BOOTSTRAP = ("<module>", "spawn_main", "_main ", "run ", "_bootstrap", "subprocess_started", "target ",
              "asyncio_run", "serve ", "_serve ", "_worker ", "run_forever", "_run_once", "_run ")


def _function(frame):
    """'name (path/to/module.py:12)' -> 'name (module.py)'."""
    name, _, where = frame.partition(" (")
    return f"{name} ({Path(where.rsplit(':', 1)[0]).name})" if where else name

