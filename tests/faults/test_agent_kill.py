"""A store agent killed with SIGKILL while it handles a message.

The agent is a real ``retail-hub-agent run`` subprocess without a hub URL,
so nothing but the queue can repair its copy. It dies either after the
broker delivered the first message and before its commit, or after the
commit and before the ack. The broker returns the unacknowledged messages
to the queue, and the restarted agent must end with exactly the hub's
documents, like the store beside it whose agent was never killed.
"""

import asyncio
import signal
import sys
from pathlib import Path

import pytest

from contracts import queue_name
from hub.repository import Repository
from hub.runtime import Broker, publish
from hub.settings import Settings
from store_agent.local_store import LocalStore
from tests.faults.harness import (
    ITEMS,
    agent_environment,
    assert_converged,
    running,
    serve_hub,
    wait_until,
)

pytestmark = [pytest.mark.integration, pytest.mark.faults]

CHANGES = 100
BATCH_SIZE = 25


@pytest.mark.parametrize(
    ("point", "held_after_kill"), [("before-commit", 0), ("before-ack", BATCH_SIZE)]
)
async def test_agent_killed_handling_message(
    settings: Settings,
    repository: Repository,
    broker: Broker,
    store_queues: list[str],
    tmp_path: Path,
    point: str,
    held_after_kill: int,
) -> None:
    settings = settings.model_copy(update={"publish_batch_size": BATCH_SIZE})
    async with serve_hub(settings, repository, tmp_path, store_queues) as hub:
        victim = await hub.add_store("amqp", broker.channel, broker.exchange)
        bystander = await hub.add_store("amqp", broker.channel, broker.exchange)
        queue = queue_name(victim.store_id, ITEMS)
        command = hub.agent_command(victim, "--hub-url", "")
        killed = [sys.executable, "-m", "tests.faults.agent_kill_points", point]
        log = tmp_path / "agent.log"

        async with hub.agent(bystander):
            # The kill points wrap the agent's command line, without its program.
            killing = killed + command[1:]
            async with running(killing, log, agent_environment()) as agent:
                await wait_until(
                    lambda: agent.returncode is not None or _consumers(broker, queue),
                    "the agent consuming",
                    60,
                )
                assert agent.returncode is None, log.read_text()
                await hub.commit([f"k{i:03d}" for i in range(CHANGES)], 1)
                await publish(hub.settings, repository, broker, ITEMS)
                return_code = await asyncio.wait_for(agent.wait(), timeout=60)

            held = await asyncio.to_thread(_held, victim.database)
            # The unacknowledged messages are back once the broker noticed
            # the dead connection.
            await wait_until(
                lambda: _depth(broker, queue, CHANGES // BATCH_SIZE),
                "every message back in the queue",
            )

            async with running(command, log, agent_environment()) as agent:
                await assert_converged(repository, hub.stores)
                agent.send_signal(signal.SIGTERM)
                stopped = await asyncio.wait_for(agent.wait(), timeout=30)

    assert return_code == -signal.SIGKILL
    assert held == held_after_kill
    assert stopped == 0


async def _consumers(broker: Broker, queue: str) -> bool:
    declared = await broker.channel.declare_queue(queue, passive=True)
    return (declared.declaration_result.consumer_count or 0) > 0


async def _depth(broker: Broker, queue: str, expected: int) -> bool:
    declared = await broker.channel.declare_queue(queue, passive=True)
    return declared.declaration_result.message_count == expected


def _held(database: Path) -> int:
    with LocalStore(database) as local:
        return local.count(ITEMS)
