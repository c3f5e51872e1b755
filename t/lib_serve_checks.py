"""The checks the t80xx Python helpers (lib-serve-*.py) report: one line
per check, 'ok NAME' or 'FAIL NAME: why'; failed() counts the failures,
the helpers' exit code."""

_failures = 0


def check(name, fn):
    global _failures
    try:
        fn()
        print("ok", name)
    except Exception as e:  # noqa: BLE001 - report every kind of failure
        _failures += 1
        print("FAIL %s: %r" % (name, e))


def expect(a, b):
    if a != b:
        raise AssertionError("%r != %r" % (a, b))


def failed():
    return _failures
