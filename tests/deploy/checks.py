"""One line per check, and the list of those that failed (shared by the deployment tests)."""

failures = []


def check(cond, what):
    print(("ok   " if cond else "FAIL ") + what, flush=True)
    if not cond:
        failures.append(what)
    return cond
