"""A Lambda handler that misbehaves on request, to test the local cloud's worker pool."""

import os
import time

IMPORTED_AT = time.time()

# A slow initialisation, once: the first process to import this sleeps, later ones do not.
if os.environ.get("SLOW_INIT_MARKER") and not os.path.exists(os.environ["SLOW_INIT_MARKER"]):
    open(os.environ["SLOW_INIT_MARKER"], "w").close()
    time.sleep(float(os.environ["SLOW_INIT_SECONDS"]))


class Boom(Exception):
    pass


def handler(event, context):
    action = event.get("action")
    if action == "sleep":
        time.sleep(event["seconds"])
    elif action == "die":
        os._exit(3)
    elif action == "raise":
        raise Boom("it went wrong")
    return {
        "pid": os.getpid(),
        "imported_at": IMPORTED_AT,
        "remaining_ms": context.get_remaining_time_in_millis(),
        "function_name": context.function_name,
        "secret": os.environ.get("PARENT_ONLY_SECRET"),
        "mine": os.environ.get("MY_SETTING"),
    }
