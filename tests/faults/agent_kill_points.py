"""Run ``retail-hub-agent`` so that it dies with SIGKILL at a chosen point.

    python -m tests.faults.agent_kill_points POINT AGENT-ARGUMENTS...

POINT is where the agent kills itself while handling its first AMQP message:

- ``before-commit``: the broker delivered the message, nothing is committed;
- ``before-ack``: the message's documents are committed, the ack is not sent.

SIGKILL gives the agent no chance to clean up, as with a power cut or the
kernel's OOM killer. Everything else is the agent's own code.
"""

import os
import signal
import sys
from typing import Any

from store_agent import cli
from store_agent.amqp_consumer import AckOutcome, QueueConsumer

POINTS = ("before-commit", "before-ack")


def _die() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


def install(point: str) -> None:
    """Patch the queue consumer so the process dies at ``point``."""
    if point == "before-commit":
        handle = QueueConsumer.handle

        async def die_then_handle(self: QueueConsumer, message: Any) -> AckOutcome:
            _die()
            return await handle(self, message)

        QueueConsumer.handle = die_then_handle  # type: ignore[method-assign]
    elif point == "before-ack":
        settle = QueueConsumer._settle

        async def die_before_ack(
            self: QueueConsumer, message: Any, outcome: AckOutcome
        ) -> None:
            if outcome is AckOutcome.ACK:
                _die()
            await settle(self, message, outcome)

        QueueConsumer._settle = die_before_ack  # type: ignore[method-assign]
    else:
        raise SystemExit(f"invalid kill point {point!r}: use one of {POINTS}")


if __name__ == "__main__":
    install(sys.argv[1])
    sys.exit(cli.main(sys.argv[2:]))
