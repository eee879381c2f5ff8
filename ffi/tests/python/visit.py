"""A patient's Python client, on the generated bindings: joins the visit,
waits to be admitted, chats end to end with the Rust provider, refreshes its
token through an async token source, and gets typed errors.

Run by ffi/tests/foreign.rs (through `cargo xtask test`), which starts the
hub and the provider and reads what this prints. Environment:
BEDSIDE_BINDINGS (the directory holding bedside.py and libbedside_ffi.so),
BEDSIDE_URL, BEDSIDE_TOKEN (short-lived: a refresh is due at once),
BEDSIDE_REFRESH_TOKEN (what the token source hands out).
"""

import asyncio
import os
import sys

sys.path.insert(0, os.environ["BEDSIDE_BINDINGS"])
import bedside as b  # noqa: E402


class Tokens(b.TokenSource):
    def __init__(self):
        self.refreshes = 0

    async def token(self, purpose):
        if purpose == b.TokenPurpose.REFRESH:
            self.refreshes += 1
        await asyncio.sleep(0.02)  # as an app would: ask the clinic first
        return os.environ["BEDSIDE_REFRESH_TOKEN"]


class Listener(b.EventListener):
    def __init__(self, loop, queue):
        self.loop, self.queue = loop, queue

    def on_event(self, event):
        # Called on the SDK's threads: hand over to the event loop.
        self.loop.call_soon_threadsafe(self.queue.put_nowait, event)


UNMATCHED = []


async def until(queue, what, match):
    """The first event that matches, earlier unmatched ones included: events
    from independent paths may come in either order, and none is lost by
    waiting for another."""
    for i, event in enumerate(UNMATCHED):
        found = match(event)
        if found is not None:
            del UNMATCHED[i]
            return found

    async def wait():
        while True:
            event = await queue.get()
            found = match(event)
            if found is not None:
                return found
            UNMATCHED.append(event)

    try:
        return await asyncio.wait_for(wait(), 30)
    except asyncio.TimeoutError:
        sys.exit(f"no {what} in time")


async def main():
    loop = asyncio.get_running_loop()
    b.uniffi_set_event_loop(loop)
    queue = asyncio.Queue()
    tokens = Tokens()
    config = b.ClientConfig(
        url=os.environ["BEDSIDE_URL"],
        device="dev-py",
        identity_secret=None,
        pins_json=None,
    )
    client = await b.BedsideClient.connect(
        config, os.environ["BEDSIDE_TOKEN"], tokens, Listener(loop, queue), None
    )
    await until(queue, "waiting", lambda e: True if isinstance(e, b.ClientEvent.WAITING) else None)
    print("waiting", flush=True)
    present = await until(
        queue, "admitted",
        lambda e: e.participants if isinstance(e, b.ClientEvent.ADMITTED) else None,
    )
    print("admitted with", ",".join(sorted(p.id for p in present)), flush=True)

    await client.send_chat("hello from python")
    text = await until(
        queue, "the provider's chat",
        lambda e: e.message if isinstance(e, b.ClientEvent.CHAT) else None,
    )
    print(f"chat from {text.sender}: {text.text}", flush=True)

    for _ in range(300):
        if tokens.refreshes:
            break
        await asyncio.sleep(0.1)
    print("refreshes", tokens.refreshes, flush=True)
    await client.send_chat("after the refresh")
    # The provider answers once the hub acknowledged the refresh: leaving
    # before then could close the link ahead of the refresh.
    told = await until(
        queue, "the provider's word on the refresh",
        lambda e: e.message.text if isinstance(e, b.ClientEvent.CHAT) else None,
    )
    print(f"chat from dr: {told}", flush=True)

    try:
        await client.admit("not an id!")
        print("no error")
    except b.BedsideError.InvalidArgument:
        print("typed error InvalidArgument", flush=True)

    await client.leave()
    reason = await until(
        queue, "the end", lambda e: e.reason if isinstance(e, b.ClientEvent.ENDED) else None
    )
    print("ended", "left" if reason.is_left() else reason, flush=True)


asyncio.run(main())
