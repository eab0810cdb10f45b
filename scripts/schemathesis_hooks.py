"""Schemathesis hooks for scripts/schemathesis.sh.

The spec declares e-mails, passwords, usernames and callback URLs as plain
strings, so almost every generated request fails the server's validation and
the success responses (whose bodies the schema check is most useful on) are
never seen: no generated sign-up succeeded without this. For the positive
cases of the fuzzing phase only, this replaces such values when they could
not pass with valid ones. The coverage phase and negative cases are sent as
generated, so invalid input is still exercised.

In the signed-in run, ST_USER_PASSWORD is the signed-in user's password: every
other positive /two-factor/* case sends it, so those operations can succeed.
"""

import itertools
import os
import re

import schemathesis

_counter = itertools.count(1)
_EMAIL = re.compile(r"^[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+$")
_USERNAME = re.compile(r"^[A-Za-z0-9_.]{3,30}$")
_URL_KEYS = ("callbackURL", "newUserCallbackURL", "errorCallbackURL", "redirectTo")
_OTP_TYPES = ("sign-in", "email-verification", "forget-password")
_USER_PASSWORD = os.environ.get("ST_USER_PASSWORD")


def _fix(values, n):
    for key in ("email", "newEmail"):
        if isinstance(values.get(key), str) and not _EMAIL.match(values[key]):
            values[key] = f"fuzz{n}@example.com"
    for key in ("password", "newPassword"):
        if isinstance(values.get(key), str) and not 8 <= len(values[key]) <= 128:
            values[key] = f"fuzz-password-{n}"
    for key in ("username", "displayUsername"):
        if isinstance(values.get(key), str) and not _USERNAME.match(values[key]):
            values[key] = f"fuzz_user_{n}"
    # Relative paths are always trusted callback targets.
    for key in _URL_KEYS:
        if isinstance(values.get(key), str) and not values[key].startswith("/"):
            values[key] = "/"


@schemathesis.hook
def before_call(ctx, case, kwargs):
    meta = case.meta
    if meta is None or meta.phase.name != "fuzzing" or meta.generation.mode != "positive":
        return
    n = next(_counter)
    if isinstance(case.body, dict):
        _fix(case.body, n)
        path = case.operation.path
        if path.startswith("/email-otp/") and case.body.get("type") not in (None, *_OTP_TYPES):
            case.body["type"] = _OTP_TYPES[n % len(_OTP_TYPES)]
        if path.startswith("/two-factor/") and _USER_PASSWORD and "password" in case.body and n % 2:
            case.body["password"] = _USER_PASSWORD
    if isinstance(case.query, dict):
        _fix(case.query, n)
