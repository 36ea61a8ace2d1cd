"""End-to-end test of `colony a2a` with the official A2A Python SDK.

Run by scripts/a2a-test.sh, which starts a Colony server and the gateway for the agent `manager`
with a bearer token, registers two workers offering `dex.scan`, and passes in the environment:
GATEWAY_URL, GATEWAY_TOKEN, SERVER_URL, COLONY (the binary), KEYS (the directory of manager.key,
worker-a.key, ...).

The SDK resolves and validates the card (public, declaring the bearer scheme, without the
capabilities), is refused without the token, then with the token (through the SDK's
AuthInterceptor, which reads the card's scheme) reads the extended card, sends messages, reads and cancels tasks and follows one over a subscription; the workers and the
manager carry the task out through the `colony` CLI, as agents of the swarm would. Any failure
raises, and the script exits non-zero.
"""

import asyncio
import json
import os
import subprocess
import sys
import uuid

import httpx
from google.protobuf.json_format import MessageToDict, ParseDict

from a2a.client import A2ACardResolver, ClientConfig, ClientFactory
from a2a.client.auth import AuthInterceptor, CredentialService
from a2a.client.errors import A2AClientError
from a2a.types.a2a_pb2 import (
    CancelTaskRequest,
    GetExtendedAgentCardRequest,
    GetTaskRequest,
    SendMessageRequest,
    SubscribeToTaskRequest,
    TaskState,
)
from a2a.utils.errors import TaskNotCancelableError, TaskNotFoundError
from a2a.utils.proto_utils import validate_proto_required_fields

GATEWAY_URL = os.environ["GATEWAY_URL"]
GATEWAY_TOKEN = os.environ["GATEWAY_TOKEN"]
SERVER_URL = os.environ["SERVER_URL"]
COLONY = os.environ["COLONY"]
KEYS = os.environ["KEYS"]
TIMEOUT_S = 30

passed = []


def check(name):
    """Records a passed check, by name, for the closing line."""
    passed.append(name)
    print(f"ok: {name}")


def colony(*args, key):
    """Runs the colony CLI as the agent with `key`; fails loudly on any error."""
    command = [COLONY, "--server", SERVER_URL, *args, "--key", os.path.join(KEYS, f"{key}.key")]
    completed = subprocess.run(command, capture_output=True, text=True, timeout=TIMEOUT_S)
    if completed.returncode != 0:
        raise AssertionError(f"{' '.join(command)} failed:\n{completed.stdout}\n{completed.stderr}")
    return completed.stdout


class GatewayToken(CredentialService):
    """The gateway's token, for the scheme its card names (the SDK asks per scheme)."""

    def __init__(self, scheme_name, token):
        self.scheme_name = scheme_name
        self.token = token

    async def get_credentials(self, security_scheme_name, context):
        return self.token if security_scheme_name == self.scheme_name else None


def send_request(message_id, terms, text="scan ETH/USDC"):
    """A SendMessageRequest whose data part carries Colony's terms and whose text is the payload."""
    return ParseDict(
        {"message": {"messageId": message_id, "role": "ROLE_USER", "parts": [{"text": text}, {"data": terms}]}},
        SendMessageRequest(),
    )


TERMS = {
    "kind": "analyze",
    "max_cost": "1000",
    "deadline_ms": 600000,
    "bid_window_ms": 600000,
    "required_capabilities": ["dex.scan"],
}


async def first_task(client, request):
    """Sends a message and returns the task of its first answer."""
    async for response in client.send_message(request):
        assert response.HasField("task"), f"the first answer is the task: {response}"
        return response.task
    raise AssertionError("SendMessage answered nothing")


async def follow(client, task_id, first_seen):
    """Subscribes to a task and returns what the stream said, in order, until it ended."""
    seen = []
    async for response in client.subscribe(SubscribeToTaskRequest(id=task_id)):
        if response.HasField("task"):
            seen.append(("task", TaskState.Name(response.task.status.state)))
            first_seen.set()
        elif response.HasField("status_update"):
            seen.append(("status", TaskState.Name(response.status_update.status.state)))
        elif response.HasField("artifact_update"):
            seen.append(("artifact", MessageToDict(response.artifact_update.artifact.parts[0].data)))
    return seen


def carry_out(task_id):
    """Two bids, the manager's award, the winner's work and result, and the manager's verification."""
    colony("task", "bid", task_id, "--cost", "300", "--time-ms", "60000", "--confidence", "0.9", key="worker-a")
    colony("task", "bid", task_id, "--cost", "600", "--time-ms", "90000", "--confidence", "0.6", key="worker-b")
    colony("task", "award", task_id, key="manager")
    colony("task", "accept", task_id, key="worker-a")
    colony("task", "progress", task_id, "--percent", "50", "--note", "halfway", key="worker-a")
    colony("task", "submit", task_id, "--result", '{"spread_bps": 12}', "--actual-cost", "100", key="worker-a")
    colony("task", "verify", task_id, "--score", "0.9", key="manager")


async def main():
    async with httpx.AsyncClient(timeout=TIMEOUT_S) as http:
        card = await A2ACardResolver(http, GATEWAY_URL).get_agent_card()
        validate_proto_required_fields(card)
        interface = card.supported_interfaces[0]
        assert (interface.protocol_binding, interface.protocol_version) == ("JSONRPC", "1.0"), interface
        assert interface.url.rstrip("/") == GATEWAY_URL.rstrip("/"), interface.url
        assert card.capabilities.streaming, card.capabilities
        skills = [skill.id for skill in card.skills]
        assert skills == ["colony.task"], skills
        assert card.capabilities.extended_agent_card, card.capabilities
        check("the card resolves and validates; public, it offers the generic skill and declares the extended card")

        schemes = dict(card.security_schemes)
        assert list(schemes) == ["bearer"], schemes
        assert schemes["bearer"].http_auth_security_scheme.scheme.lower() == "bearer", schemes
        required = [list(requirement.schemes) for requirement in card.security_requirements]
        assert required == [["bearer"]], required
        check("the card is public and declares the HTTP bearer scheme as required")

        anonymous = ClientFactory(ClientConfig(streaming=False, httpx_client=http)).create(card)
        try:
            await first_task(anonymous, send_request(str(uuid.uuid4()), TERMS))
            raise AssertionError("a message without the token was taken")
        except A2AClientError as error:
            assert "401" in str(error), error
        wrong = await http.post(GATEWAY_URL, json={"jsonrpc": "2.0", "id": 1, "method": "GetTask",
                                                   "params": {"id": "0"}},
                                headers={"Authorization": "Bearer " + "0" * 64})
        assert wrong.status_code == 401, wrong
        assert wrong.headers["www-authenticate"].startswith("Bearer"), wrong.headers
        assert wrong.json()["error"]["data"][0]["metadata"]["colonyCode"] == "unauthenticated", wrong.text
        check("without the token, or with a wrong one, requests are 401 with a Bearer challenge")

        get_task = {"jsonrpc": "2.0", "id": 1, "method": "GetTask", "params": {"id": "0"}}
        bearer = {"Authorization": "Bearer " + GATEWAY_TOKEN}
        for headers, status, code in [
            ({"Content-Type": "text/plain"}, 415, "unsupported_media_type"),
            ({"Content-Type": "application/json", "Origin": "https://evil.example"}, 403, "forbidden_origin"),
            ({"Content-Type": "application/json", "Host": "evil.example"}, 403, "forbidden_host"),
        ]:
            page = await http.post(GATEWAY_URL, content=json.dumps(get_task), headers={**bearer, **headers})
            assert page.status_code == status, (headers, page.status_code, page.text)
            assert page.json()["error"]["data"][0]["metadata"]["colonyCode"] == code, page.text
        check("what a web page could send (text/plain, an Origin, a foreign Host) is refused, even with the token")

        auth = [AuthInterceptor(GatewayToken("bearer", GATEWAY_TOKEN))]
        polling = ClientFactory(ClientConfig(streaming=False, httpx_client=http)).create(card, auth)
        streaming = ClientFactory(ClientConfig(streaming=True, httpx_client=http)).create(card, auth)

        extended = await polling.get_extended_agent_card(GetExtendedAgentCardRequest())
        validate_proto_required_fields(extended)
        skills = [skill.id for skill in extended.skills]
        assert skills == ["colony.task", "dex.scan"], skills
        check("with the token, the extended card offers the workers' capability")

        message_id = str(uuid.uuid4())
        task = await first_task(polling, send_request(message_id, TERMS))
        assert task.status.state == TaskState.TASK_STATE_SUBMITTED, task
        again = await first_task(polling, send_request(message_id, TERMS))
        assert again.id == task.id, (again.id, task.id)
        check(f"SendMessage announces task {task.id} in submitted; sent again, it finds the same task")

        first_seen = asyncio.Event()
        subscription = asyncio.create_task(follow(streaming, task.id, first_seen))
        await asyncio.wait_for(first_seen.wait(), TIMEOUT_S)
        await asyncio.to_thread(carry_out, task.id)
        seen = await asyncio.wait_for(subscription, TIMEOUT_S)
        states = [state for kind, state in seen if kind != "artifact"]
        assert states[0] == "TASK_STATE_SUBMITTED", seen
        assert "TASK_STATE_WORKING" in states, seen
        assert seen[-2:] == [("artifact", {"spread_bps": 12}), ("status", "TASK_STATE_COMPLETED")], seen
        check(f"SubscribeToTask follows the task: {' -> '.join(states)}")

        done = await polling.get_task(GetTaskRequest(id=task.id))
        assert done.status.state == TaskState.TASK_STATE_COMPLETED, done
        assert MessageToDict(done.artifacts[0].parts[0].data) == {"spread_bps": 12}, done.artifacts
        check("GetTask reads the task completed, with its result as an artifact")

        streamed = await first_task(streaming, send_request(str(uuid.uuid4()), TERMS, text="scan BTC/USDC"))
        assert streamed.status.state == TaskState.TASK_STATE_SUBMITTED, streamed
        cancelled = await polling.cancel_task(CancelTaskRequest(id=streamed.id))
        assert cancelled.status.state == TaskState.TASK_STATE_CANCELED, cancelled
        try:
            await polling.cancel_task(CancelTaskRequest(id=streamed.id))
            raise AssertionError("a cancelled task was cancelled again")
        except TaskNotCancelableError:
            pass
        check(f"SendStreamingMessage announces task {streamed.id}; CancelTask cancels it, and only once")

        try:
            await polling.get_task(GetTaskRequest(id="999999999"))
            raise AssertionError("an unknown task was found")
        except TaskNotFoundError:
            pass
        check("GetTask of an unknown id is TaskNotFound")

    print(f"a2a: {len(passed)} passed, 0 failed")


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except Exception as error:  # noqa: BLE001 - any failure ends the run with its story
        print(f"a2a: {len(passed)} passed, 1 failed ({error!r})", file=sys.stderr)
        raise
